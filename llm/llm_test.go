package llm

import (
	"math"
	"testing"
)

func TestUsage_Add(t *testing.T) {
	cases := []struct {
		name      string
		a, b      Usage
		want      Usage
		wantTotal int64
	}{
		{"small counts add up", Usage{100, 20}, Usage{50, 5}, Usage{150, 25}, 175},
		{"a sum past the largest count stays there", Usage{1 << 62, 1 << 62}, Usage{1 << 62, 1 << 62},
			Usage{math.MaxInt64, math.MaxInt64}, math.MaxInt64},
		{"a negative sum past the smallest stays there", Usage{math.MinInt64 + 1, 0}, Usage{-5, 0},
			Usage{math.MinInt64, 0}, math.MinInt64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.a.Add(c.b)
			if got != c.want || got.Total() != c.wantTotal {
				t.Errorf("%+v + %+v = %+v (total %d), want %+v (total %d)", c.a, c.b, got, got.Total(), c.want, c.wantTotal)
			}
		})
	}
}
