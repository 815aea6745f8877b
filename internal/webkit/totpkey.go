package webkit

import (
	"encoding/base64"
	"html/template"
	"strings"

	"github.com/skip2/go-qrcode"
)

// SpacedKey groups a base32 TOTP key in fours, as people type it from the
// screen into an authenticator app.
func SpacedKey(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// QRDataURI is an otpauth:// URI as a QR code, a PNG in a data: URI that
// the pages' Content-Security-Policy (img-src data:) lets an <img> show.
func QRDataURI(uri string) (template.URL, error) {
	png, err := qrcode.Encode(uri, qrcode.Medium, 240)
	if err != nil {
		return "", err
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), nil
}
