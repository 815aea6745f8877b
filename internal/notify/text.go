package notify

import (
	"encoding/xml"
	"strconv"
	"strings"
)

// DefaultService names the sender when a Code does not.
const DefaultService = "Tobira"

// english reports whether a customer's language asks for English; everyone
// else gets Japanese, the product's first language.
func english(lang string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(lang)), "en")
}

func service(c Code) string {
	if c.Service == "" {
		return DefaultService
	}
	return c.Service
}

// SMSBody is the text message carrying c, in the customer's language.
func SMSBody(c Code) string {
	svc := service(c)
	if english(c.Lang) {
		s := svc + " verification code: " + c.Code + "."
		switch {
		case c.ValidMinutes == 1:
			s += " Valid for 1 minute."
		case c.ValidMinutes > 1:
			s += " Valid for " + strconv.Itoa(c.ValidMinutes) + " minutes."
		}
		return s + " Never share it."
	}
	s := "【" + svc + "】確認コード: " + c.Code + "\n"
	if c.ValidMinutes > 0 {
		s += "このコードは" + strconv.Itoa(c.ValidMinutes) + "分間有効です。"
	}
	return s + "他の人には絶対に教えないでください。"
}

// step is one thing a code call does: say a sentence or pause (seconds).
// TwiML and the outbox's transcript are both rendered from the same steps,
// so the demo shows exactly what a real call would say.
type step struct {
	say   string
	pause int
}

// voiceScript is what the call says: an intro, the code digit by digit, the
// code again (a listener often misses a digit the first time), a goodbye.
func voiceScript(c Code) []step {
	svc := service(c)
	if english(c.Lang) {
		digits := spell(c.Code, ", ") + "."
		bye := "Never share this code. Goodbye."
		if c.ValidMinutes > 0 {
			bye = "The code is valid for " + strconv.Itoa(c.ValidMinutes) + " minutes. " + bye
		}
		return []step{
			{say: "Here is your " + svc + " verification code."},
			{pause: 1},
			{say: digits},
			{pause: 1},
			{say: "Once again."},
			{say: digits},
			{pause: 1},
			{say: bye},
		}
	}
	digits := spell(c.Code, "、") + "。"
	bye := "他の人には絶対に教えないでください。失礼いたします。"
	if c.ValidMinutes > 0 {
		bye = "このコードは" + strconv.Itoa(c.ValidMinutes) + "分間有効です。" + bye
	}
	return []step{
		{say: svc + " の確認コードをお知らせします。"},
		{pause: 1},
		{say: digits},
		{pause: 1},
		{say: "もう一度繰り返します。"},
		{say: digits},
		{pause: 1},
		{say: bye},
	}
}

// spell separates the code's characters so text-to-speech reads each digit
// ("1、2、3") rather than one large number ("123456" as "one hundred and
// twenty-three thousand...").
func spell(code, sep string) string {
	parts := make([]string, 0, len(code))
	for _, r := range code {
		parts = append(parts, string(r))
	}
	return strings.Join(parts, sep)
}

// Voices: Twilio's default voice ("man") does not speak Japanese, so each
// language names an Amazon Polly voice that does.
func sayAttrs(lang string) (voice, language string) {
	if english(lang) {
		return "Polly.Joanna", "en-US"
	}
	return "Polly.Mizuki", "ja-JP"
}

// TwiML is the document Twilio follows when the code call is answered.
func TwiML(c Code) string {
	voice, lang := sayAttrs(c.Lang)
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<Response>")
	for _, s := range voiceScript(c) {
		if s.say == "" {
			b.WriteString(`<Pause length="` + strconv.Itoa(s.pause) + `"/>`)
			continue
		}
		b.WriteString(`<Say voice="` + escape(voice) + `" language="` + escape(lang) + `">`)
		b.WriteString(escape(s.say))
		b.WriteString("</Say>")
	}
	b.WriteString("</Response>")
	return b.String()
}

// escape makes text safe as XML character data and attribute values: the
// service name comes from configuration and could hold "&" or "<".
func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}

// VoiceTranscript is the code call as readable text, one sentence a line:
// what the outbox keeps in place of placing a call.
func VoiceTranscript(c Code) string {
	var lines []string
	for _, s := range voiceScript(c) {
		if s.say != "" {
			lines = append(lines, s.say)
		}
	}
	return strings.Join(lines, "\n")
}
