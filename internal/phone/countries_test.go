package phone

import (
	"regexp"
	"strconv"
	"sync"
	"testing"
)

func TestCountries(t *testing.T) {
	tests := []struct {
		lang      string
		wantFirst string
		// two regions that must come in this order in the language
		before, after string
	}{
		{"ja", "日本, JP, +81", "US", "GB"}, // アメリカ合衆国 before イギリス
		{"ja-JP", "日本, JP, +81", "US", "GB"},
		{"", "日本, JP, +81", "US", "GB"},      // Japanese unless English was asked
		{"en", "Japan, JP, +81", "GB", "US"}, // United Kingdom before United States
		{"en-US", "Japan, JP, +81", "GB", "US"},
	}
	labelShape := regexp.MustCompile(`^[^,]+, [A-Z]{2}, \+[1-9][0-9]{0,3}$`)
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			list := Countries(tt.lang)
			if len(list) <= 200 {
				t.Fatalf("%d countries, want more than 200", len(list))
			}
			if got := list[0].Label(); got != tt.wantFirst {
				t.Errorf("first = %q, want %q", got, tt.wantFirst)
			}
			seen := map[string]bool{}
			pos := map[string]int{}
			for i, c := range list {
				if seen[c.Region] {
					t.Errorf("duplicate region %s", c.Region)
				}
				seen[c.Region] = true
				pos[c.Region] = i
				if !labelShape.MatchString(c.Label()) {
					t.Errorf("label %q has not the shape \"name, XX, +N\"", c.Label())
				}
				if want := ", " + c.Region + ", +" + strconv.Itoa(c.CallingCode); c.Label() != c.Name+want {
					t.Errorf("label %q does not match %+v", c.Label(), c)
				}
			}
			if pos[tt.before] > pos[tt.after] {
				t.Errorf("%s (%s) sorted after %s (%s)", tt.before, list[pos[tt.before]].Name, tt.after, list[pos[tt.after]].Name)
			}
		})
	}
}

func TestCountriesKnownEntries(t *testing.T) {
	find := func(list []Country, region string) Country {
		for _, c := range list {
			if c.Region == region {
				return c
			}
		}
		t.Fatalf("%s missing", region)
		return Country{}
	}
	tests := []struct {
		lang, region, label string
	}{
		{"ja", "US", "アメリカ合衆国, US, +1"},
		{"en", "US", "United States, US, +1"},
		{"en", "GB", "United Kingdom, GB, +44"},
		{"ja", "KR", "韓国, KR, +82"},
	}
	for _, tt := range tests {
		if got := find(Countries(tt.lang), tt.region).Label(); got != tt.label {
			t.Errorf("%s %s: %q, want %q", tt.lang, tt.region, got, tt.label)
		}
	}
}

// The cached list must not be changed through a slice handed out.
func TestCountriesReturnsACopy(t *testing.T) {
	a := Countries("ja")
	a[0].Name = "changed"
	if b := Countries("ja"); b[0].Name != "日本" {
		t.Errorf("cache changed through a returned slice: %q", b[0].Name)
	}
}

func TestCountriesConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			lang := []string{"ja", "en"}[i%2]
			if len(Countries(lang)) == 0 {
				t.Error("empty list")
			}
		})
	}
	wg.Wait()
}
