# Shared by table.awk and goals.awk (awk -f stats.awk -f table.awk): reads
# the targets file (ID<TAB>LABEL<TAB>STATUS) and the results file
# (ROUND TARGET METRIC VALUE), and computes medians and per-round ratios.

FNR == NR { order[++n] = $1; label[$1] = $2; status[$1] = $3; next }
{
  split($0, f, " ")
  value[f[1], f[2], f[3]] = f[4]
  if (f[1] + 0 > rounds + 0) rounds = f[1] + 0
}

function median(list, count,    i, j, x) {
  if (count == 0) return ""
  for (i = 2; i <= count; i++) {  # insertion sort: mawk has no asort
    x = list[i]
    for (j = i - 1; j >= 1 && list[j] > x; j--) list[j + 1] = list[j]
    list[j + 1] = x
  }
  return count % 2 ? list[(count + 1) / 2] : (list[count / 2] + list[count / 2 + 1]) / 2
}

# Median over the rounds of target t's metric m.
function med(t, m,    r, k, list) {
  k = 0
  for (r = 1; r <= rounds; r++) if ((r, t, m) in value) list[++k] = value[r, t, m] + 0
  return median(list, k)
}

# Median over the rounds of t's metric m divided by b's in the same round.
function ratio(t, m, b,    r, k, list) {
  k = 0
  for (r = 1; r <= rounds; r++)
    if ((r, t, m) in value && (r, b, m) in value && value[r, b, m] + 0 > 0)
      list[++k] = value[r, t, m] / value[r, b, m]
  return median(list, k)
}
