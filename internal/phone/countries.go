package phone

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

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

// Countries returns the regions of allowed (ISO codes such as "JP") that
// phone numbers can be parsed for, named in lang ("ja" or "en"; anything but
// English gets Japanese, the product's first language) and sorted by name in
// that language, Japan first. The caller owns the slice it gets.
func Countries(lang string, allowed []string) []Country {
	all := countriesJA()
	if isEnglish(lang) {
		all = countriesEN()
	}
	var list []Country
	for _, c := range all {
		if slices.Contains(allowed, c.Region) {
			list = append(list, c)
		}
	}
	return list
}

func isEnglish(lang string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(lang)), "en")
}

// Names that x/text's CLDR tables have outdated or longer than people in
// Japan write them, as Japan's Ministry of Foreign Affairs writes them.
var namesJA = map[string]string{
	"MK": "北マケドニア",   // renamed in 2019
	"SZ": "エスワティニ",   // renamed in 2018
	"MM": "ミャンマー",    // not "ミャンマー (ビルマ)"
	"HK": "香港",       // not "中華人民共和国香港特別行政区"
	"MO": "マカオ",      // not "中華人民共和国マカオ特別行政区"
	"PS": "パレスチナ",    // not "パレスチナ自治区"
	"CG": "コンゴ共和国",   // not "コンゴ共和国(ブラザビル)"
	"CD": "コンゴ民主共和国", // not "コンゴ民主共和国(キンシャサ)"
}

var namesEN = map[string]string{
	"MK": "North Macedonia", // renamed in 2019
	"SZ": "Eswatini",        // renamed in 2018
	"TR": "Türkiye",         // the UN's name since 2022
}

// readingsJA gives, in kana, how the Japanese names that are not all kana
// are read: sorting by reading is what a Japanese reader expects (中国 among
// the チ, 韓国 among the カ), and a collator cannot know how kanji are read.
// TestReadingsCoverEveryName keeps the table complete.
var readingsJA = map[string]string{
	"JP": "にほん",
	"AC": "アセンションとう",
	"AE": "アラブしゅちょうこくれんぽう",
	"AS": "べいりょうサモア",
	"AX": "オーランドしょとう",
	"BQ": "オランダりょうカリブ",
	"CC": "ココス(キーリング)しょとう",
	"CD": "コンゴみんしゅきょうわこく",
	"CF": "ちゅうおうアフリカきょうわこく",
	"CG": "コンゴきょうわこく",
	"CK": "クックしょとう",
	"CN": "ちゅうごく",
	"CX": "クリスマスとう",
	"DM": "ドミニカこく",
	"DO": "ドミニカきょうわこく",
	"EH": "にしサハラ",
	"FK": "フォークランドしょとう",
	"FM": "ミクロネシアれんぽう",
	"FO": "フェローしょとう",
	"GF": "ふつりょうギアナ",
	"GQ": "せきどうギニア",
	"HK": "ホンコン",
	"IM": "マンとう",
	"IO": "えいりょうインドようちいき",
	"KP": "きたちょうせん",
	"KR": "かんこく",
	"KY": "ケイマンしょとう",
	"MH": "マーシャルしょとう",
	"MK": "きたマケドニア",
	"MP": "きたマリアナしょとう",
	"NF": "ノーフォークとう",
	"PF": "ふつりょうポリネシア",
	"PM": "サンピエールとう・ミクロンとう",
	"SB": "ソロモンしょとう",
	"SJ": "スバールバルしょとう・ヤンマイエンとう",
	"SS": "みなみスーダン",
	"TC": "タークス・カイコスしょとう",
	"TL": "ひがしティモール",
	"TW": "たいわん",
	"US": "アメリカがっしゅうこく",
	"VA": "バチカンしこく",
	"VC": "セントビンセントおよびグレナディーンしょとう",
	"VG": "えいりょうヴァージンしょとう",
	"VI": "べいりょうヴァージンしょとう",
	"ZA": "みなみアフリカ",
}

func buildCountries(tag language.Tag) []Country {
	names, fixes := display.Regions(tag), namesJA
	if tag == language.English {
		fixes = namesEN
	}
	var list []Country
	for r := range phonenumbers.GetSupportedRegions() {
		c := Country{Region: r, CallingCode: phonenumbers.GetCountryCodeForRegion(r), Name: r}
		if reg, err := language.ParseRegion(r); err == nil {
			if n := names.Name(reg); n != "" {
				c.Name = n
			}
		}
		if n, ok := fixes[r]; ok {
			c.Name = n
		}
		list = append(list, c)
	}
	key := func(c Country) string { return c.Name }
	if tag == language.Japanese {
		key = readingJA
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
		if c := col.CompareString(key(a), key(b)); c != 0 {
			return c
		}
		return strings.Compare(a.Region, b.Region) // stable order for equal names
	})
	return list
}

// readingJA is the key a Japanese name sorts by: its reading in kana, with
// each long-vowel mark written as the vowel it lengthens (ガーナ as ガアナ),
// as Japanese dictionaries sort. x/text's collator weighs 「ー」 otherwise
// and would put ガーナ among the ア.
func readingJA(c Country) string {
	s := c.Name
	if r, ok := readingsJA[c.Region]; ok {
		s = r
	}
	var b strings.Builder
	var prev rune
	for _, r := range s {
		if r == 'ー' {
			if v := vowelOf(prev); v != 0 {
				r = v
			}
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// vowelOf returns the vowel (ア, イ, ウ, エ or オ) a kana ends in; 0 for
// anything else.
func vowelOf(r rune) rune {
	if unicode.In(r, unicode.Hiragana) {
		r += 'ア' - 'あ' // the katakana block mirrors the hiragana one
	}
	for _, row := range [...]struct {
		vowel rune
		kana  string
	}{
		{'ア', "アァカガサザタダナハバパマヤャラワヮ"},
		{'イ', "イィキギシジチヂニヒビピミリヰ"},
		{'ウ', "ウゥクグスズツヅッヌフブプムユュルヴ"},
		{'エ', "エェケゲセゼテデネヘベペメレヱ"},
		{'オ', "オォコゴソゾトドノホボポモヨョロヲ"},
	} {
		if strings.ContainsRune(row.kana, r) {
			return row.vowel
		}
	}
	return 0
}
