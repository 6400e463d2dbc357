package keys

import "testing"

func TestDefault_EveryKeyHasHelpAndOneMeaning(t *testing.T) {
	m := Default()
	seen := map[string]string{}
	for _, group := range m.FullHelp() {
		for _, b := range group {
			h := b.Help()
			if h.Key == "" || h.Desc == "" || len(b.Keys()) == 0 {
				t.Errorf("binding %+v lacks keys or help", h)
			}
			for _, k := range b.Keys() {
				if other, dup := seen[k]; dup {
					t.Errorf("key %q means both %q and %q", k, other, h.Desc)
				}
				seen[k] = h.Desc
			}
		}
	}
	for _, b := range m.ShortHelp() {
		if _, ok := seen[b.Keys()[0]]; !ok {
			t.Errorf("footer key %q is missing from the help", b.Keys()[0])
		}
	}
}
