package phone

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Country is one entry of the enrolment screen's country picker.
type Country struct {
	Region      string // ISO 3166-1 alpha-2, e.g. "JP"
	CallingCode int    // e.g. 81
	Name        string // in the language the list was asked for
}

// Label is the picker's text, in the manual's shape: "日本, JP, +81".
func (c Country) Label() string {
	return fmt.Sprintf("%s, %s, +%d", c.Name, c.Region, c.CallingCode)
}

// DefaultRegion is the country the picker starts on: the manual's customers
// are in Japan.
const DefaultRegion = "JP"

// The lists never change while the process runs, and collation is not cheap,
// so each language's list is built once, on first use.
var (
	countriesJA = sync.OnceValue(func() []Country { return buildCountries(language.Japanese) })
	countriesEN = sync.OnceValue(func() []Country { return buildCountries(language.English) })
)

// Countries returns every region phone numbers can be parsed for, named in
// lang ("ja" or "en"; anything but English gets Japanese, the product's first
// language) and sorted by name in that language, Japan first. The caller owns
// the slice it gets.
func Countries(lang string) []Country {
	if isEnglish(lang) {
		return slices.Clone(countriesEN())
	}
	return slices.Clone(countriesJA())
}

func isEnglish(lang string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(lang)), "en")
}

func buildCountries(tag language.Tag) []Country {
	names := display.Regions(tag)
	var list []Country
	for r := range phonenumbers.GetSupportedRegions() {
		c := Country{Region: r, CallingCode: phonenumbers.GetCountryCodeForRegion(r), Name: r}
		if reg, err := language.ParseRegion(r); err == nil {
			if n := names.Name(reg); n != "" {
				c.Name = n
			}
		}
		list = append(list, c)
	}
	// Sorted as a reader of the language expects (for Japanese, by reading
	// order of kana), which byte order does not give.
	col := collate.New(tag)
	slices.SortFunc(list, func(a, b Country) int {
		switch {
		case a.Region == DefaultRegion:
			return -1
		case b.Region == DefaultRegion:
			return 1
		}
		if c := col.CompareString(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Region, b.Region) // stable order for equal names
	})
	return list
}
