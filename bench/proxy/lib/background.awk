# The machine's background load around each round (results lines
# "ROUND machine background|background_after PERCENT"), and a warning when
# it was above QUIET_MAX (-v max=...).

$2 == "machine" && $3 == "background" { before[$1] = $4 }
$2 == "machine" && $3 == "background_after" { after[$1] = $4 }
$2 == "machine" && $4 > max { loud[$1] = 1; if ($4 > top) top = $4 }

END {
  printf "other load on the idle machine before/after each round, %% of one core:"
  for (r = 1; r in before; r++) printf "%s %s/%s", (r > 1 ? "," : ""), before[r], after[r]
  printf "\n"
  for (r in loud) rounds++
  if (rounds)
    printf "WARNING: other work used up to %d%% of one core around %d round(s); its CPU is " \
      "subtracted and the runs it disturbed were repeated, but figures may still be skewed\n", \
      top, rounds
}
