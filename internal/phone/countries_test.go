package phone

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// all is the list of every country numbers can be parsed for.
func all(lang string) []Country {
	return Countries(lang, slices.Collect(maps.Keys(phonenumbers.GetSupportedRegions())))
}

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
			list := all(tt.lang)
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
		{"ja", "CZ", "チェコ, CZ, +420"},
		// The names x/text has outdated.
		{"ja", "MK", "北マケドニア, MK, +389"},
		{"ja", "SZ", "エスワティニ, SZ, +268"},
		{"ja", "MM", "ミャンマー, MM, +95"},
		{"ja", "HK", "香港, HK, +852"},
		{"en", "MK", "North Macedonia, MK, +389"},
		{"en", "SZ", "Eswatini, SZ, +268"},
		{"en", "CZ", "Czechia, CZ, +420"},
	}
	for _, tt := range tests {
		if got := find(all(tt.lang), tt.region).Label(); got != tt.label {
			t.Errorf("%s %s: %q, want %q", tt.lang, tt.region, got, tt.label)
		}
	}
}

// The cached list must not be changed through a slice handed out.
func TestCountriesReturnsACopy(t *testing.T) {
	a := all("ja")
	a[0].Name = "changed"
	if b := all("ja"); b[0].Name != "日本" {
		t.Errorf("cache changed through a returned slice: %q", b[0].Name)
	}
}

// The picker offers only the countries the configuration allows, in the
// order of the whole list; a region that numbers cannot be parsed for is
// left out.
func TestCountriesAllowed(t *testing.T) {
	tests := []struct {
		lang    string
		allowed []string
		want    []string
	}{
		{"ja", []string{"JP"}, []string{"日本, JP, +81"}},
		{"en", []string{"JP"}, []string{"Japan, JP, +81"}},
		{"ja", []string{"CN", "US", "KR", "JP"}, []string{"日本, JP, +81", "アメリカ合衆国, US, +1", "韓国, KR, +82", "中国, CN, +86"}},
		{"en", []string{"CN", "US", "KR", "JP"}, []string{"Japan, JP, +81", "China, CN, +86", "South Korea, KR, +82", "United States, US, +1"}},
		{"ja", []string{"US", "XX"}, []string{"アメリカ合衆国, US, +1"}},
		{"ja", nil, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range Countries(tt.lang, tt.allowed) {
			got = append(got, c.Label())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Countries(%q, %q) = %q, want %q", tt.lang, tt.allowed, got, tt.want)
		}
	}
}

func TestCountriesConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			lang := []string{"ja", "en"}[i%2]
			if len(all(lang)) == 0 {
				t.Error("empty list")
			}
		})
	}
	wg.Wait()
}

// Japanese names sort by their reading, as in a Japanese dictionary: kanji
// names by how they are read, a long-vowel mark as the vowel it lengthens.
func TestCountriesJapaneseOrder(t *testing.T) {
	pos := map[string]int{}
	for i, c := range all("ja") {
		pos[c.Region] = i
	}
	name := map[string]string{}
	for _, c := range all("ja") {
		name[c.Region] = c.Name
	}
	// Each row's regions in this order.
	for _, order := range [][]string{
		{"JP", "AZ", "US", "GB"}, // 日本 first; アゼルバイジャン, アメリカ合衆国, イギリス
		{"CM", "KR", "KH"},       // カメルーン, 韓国 (かんこく), カンボジア
		{"TD", "CN", "TN"},       // チャド, 中国 (ちゅうごく), チュニジア
		{"OM", "GH", "CA", "GA"}, // オマーン, ガーナ (があな, not among the ア), カナダ, ガボン
		{"BH", "HT", "BS"},       // バーレーン (ばあれえん), ハイチ, バハマ
		{"CH", "SD", "SJ"},       // スイス, スーダン (すうだん), スバールバル諸島
		{"RO", "RW"},             // ルーマニア (るうまにあ), ルワンダ
		{"KP", "GN", "CY"},       // 北朝鮮 (きたちょうせん), ギニア, キプロス
		{"TW", "TZ"},             // 台湾 (たいわん), タンザニア
		{"EC", "EE", "SZ"},       // エクアドル, エストニア, エスワティニ
		{"KP", "MK", "KI"},       // 北朝鮮 (きたちょうせん), 北マケドニア (きたまけどにあ), キリバス
	} {
		for i := 1; i < len(order); i++ {
			a, b := order[i-1], order[i]
			if pos[a] >= pos[b] {
				t.Errorf("%s (%s) sorted after %s (%s)", a, name[a], b, name[b])
			}
		}
	}
}

// Every Japanese name the picker can show sorts by a reading in kana: its
// own when it is all kana, the table's otherwise.
func TestReadingsCoverEveryName(t *testing.T) {
	kana := func(s string) bool {
		for _, r := range s {
			if !unicode.In(r, unicode.Hiragana, unicode.Katakana) && !strings.ContainsRune("ー・()（） ", r) {
				return false
			}
		}
		return true
	}
	for _, c := range all("ja") {
		r, ok := readingsJA[c.Region]
		switch {
		case ok && !kana(r):
			t.Errorf("%s: the reading %q of %s is not all kana", c.Region, r, c.Name)
		case !ok && !kana(c.Name):
			t.Errorf("%s: %s is not all kana and has no reading in readingsJA", c.Region, c.Name)
		}
	}
}
