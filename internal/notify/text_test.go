package notify

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestSMSBody(t *testing.T) {
	tests := []struct {
		name string
		c    Code
		want string
	}{
		{"ja", Code{Code: "123456", Lang: "ja", Service: "Tobira", ValidMinutes: 5},
			"【Tobira】確認コード: 123456\nこのコードは5分間有効です。他の人には絶対に教えないでください。"},
		{"en", Code{Code: "123456", Lang: "en", Service: "Tobira", ValidMinutes: 5},
			"Tobira verification code: 123456. Valid for 5 minutes. Never share it."},
		{"en-US, one minute", Code{Code: "000123", Lang: "en-US", Service: "Tobira", ValidMinutes: 1},
			"Tobira verification code: 000123. Valid for 1 minute. Never share it."},
		{"other language gets Japanese", Code{Code: "123456", Lang: "fr", Service: "Tobira", ValidMinutes: 10},
			"【Tobira】確認コード: 123456\nこのコードは10分間有効です。他の人には絶対に教えないでください。"},
		{"service defaults", Code{Code: "123456", Lang: "ja", ValidMinutes: 5},
			"【Tobira】確認コード: 123456\nこのコードは5分間有効です。他の人には絶対に教えないでください。"},
		{"other service, no lifetime", Code{Code: "654321", Lang: "en", Service: "Acme"},
			"Acme verification code: 654321. Never share it."},
		{"ja, no lifetime", Code{Code: "654321", Lang: "ja", Service: "Acme"},
			"【Acme】確認コード: 654321\n他の人には絶対に教えないでください。"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SMSBody(tt.c); got != tt.want {
				t.Errorf("SMSBody:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// twimlDoc reads any TwiML document: the verbs in order.
type twimlDoc struct {
	XMLName xml.Name `xml:"Response"`
	Verbs   []struct {
		XMLName  xml.Name
		Voice    string `xml:"voice,attr"`
		Language string `xml:"language,attr"`
		Length   string `xml:"length,attr"`
		Text     string `xml:",chardata"`
	} `xml:",any"`
}

func TestTwiML(t *testing.T) {
	tests := []struct {
		lang, language, intro, again, sep string
	}{
		{"ja", "ja-JP", "Tobira の確認コードをお知らせします。", "もう一度繰り返します。", "、"},
		{"en", "en-US", "Here is your Tobira verification code.", "Once again.", ", "},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			c := Code{To: "+819012345678", Channel: Voice, Code: "123456", Lang: tt.lang, Service: "Tobira", ValidMinutes: 5}
			doc := TwiML(c)
			if !strings.HasPrefix(doc, `<?xml version="1.0" encoding="UTF-8"?>`) {
				t.Errorf("no XML declaration: %s", doc)
			}
			var d twimlDoc
			if err := xml.Unmarshal([]byte(doc), &d); err != nil {
				t.Fatalf("TwiML does not parse: %v\n%s", err, doc)
			}
			var says []string
			for i, v := range d.Verbs {
				switch v.XMLName.Local {
				case "Say":
					if v.Language != tt.language {
						t.Errorf("Say %d language = %q, want %q", i, v.Language, tt.language)
					}
					if v.Voice == "" {
						t.Errorf("Say %d has no voice", i)
					}
					if strings.Contains(v.Text, "123456") {
						t.Errorf("Say %d reads the code as one number: %q", i, v.Text)
					}
					says = append(says, v.Text)
				case "Pause":
					if v.Length != "1" {
						t.Errorf("Pause %d length = %q", i, v.Length)
					}
				default:
					t.Errorf("unexpected verb %s", v.XMLName.Local)
				}
			}
			if len(d.Verbs) < 3 || d.Verbs[0].Text != tt.intro || d.Verbs[1].XMLName.Local != "Pause" {
				t.Fatalf("want intro then a pause, got %+v", d.Verbs)
			}
			spelled := "1" + tt.sep + "2" + tt.sep + "3" + tt.sep + "4" + tt.sep + "5" + tt.sep + "6"
			var codeSays, againAt, secondAt int
			for i, s := range says {
				if strings.HasPrefix(s, spelled) {
					codeSays++
					secondAt = i
				}
				if s == tt.again {
					againAt = i
				}
			}
			if codeSays != 2 {
				t.Errorf("code spoken %d times, want 2: %q", codeSays, says)
			}
			if againAt == 0 || againAt > secondAt {
				t.Errorf("%q not said before the second reading: %q", tt.again, says)
			}
			if secondAt == len(says)-1 {
				t.Errorf("no goodbye after the code: %q", says)
			}
		})
	}
}

// The service name comes from configuration; TwiML must stay well-formed
// whatever it holds, and Twilio must read it back unchanged.
func TestTwiMLEscapes(t *testing.T) {
	c := Code{Channel: Voice, Code: "123456", Lang: "ja", Service: `A&B <"Co">`}
	doc := TwiML(c)
	var d twimlDoc
	if err := xml.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("TwiML does not parse: %v\n%s", err, doc)
	}
	if got, want := d.Verbs[0].Text, `A&B <"Co"> の確認コードをお知らせします。`; got != want {
		t.Errorf("intro = %q, want %q", got, want)
	}
}

func TestVoiceTranscript(t *testing.T) {
	tests := []struct{ lang, want string }{
		{"ja", "Tobira の確認コードをお知らせします。\n1、2、3、4、5、6。\nもう一度繰り返します。\n1、2、3、4、5、6。\n" +
			"このコードは5分間有効です。他の人には絶対に教えないでください。失礼いたします。"},
		{"en", "Here is your Tobira verification code.\n1, 2, 3, 4, 5, 6.\nOnce again.\n1, 2, 3, 4, 5, 6.\n" +
			"The code is valid for 5 minutes. Never share this code. Goodbye."},
	}
	for _, tt := range tests {
		c := Code{Channel: Voice, Code: "123456", Lang: tt.lang, Service: "Tobira", ValidMinutes: 5}
		if got := VoiceTranscript(c); got != tt.want {
			t.Errorf("%s transcript:\n got %q\nwant %q", tt.lang, got, tt.want)
		}
	}
}
