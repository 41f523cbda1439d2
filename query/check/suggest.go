package check

import "strings"

// closest returns the candidate nearest to name by edit distance, ignoring
// case, if it is near enough to be a likely typo: at most one edit for short
// names, up to three for long ones. Ties go to the alphabetically first.
func closest(name string, candidates []string) string {
	limit := min(max(len(name)/3, 1), 3)
	lname := strings.ToLower(name)
	best, bestDist := "", limit+1
	for _, cand := range candidates {
		if cand == name || abs(len(cand)-len(name)) > limit {
			continue
		}
		d := editDistance(lname, strings.ToLower(cand))
		if d < bestDist || (d == bestDist && cand < best) {
			best, bestDist = cand, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost one, since a
// swap is the commonest typo.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
