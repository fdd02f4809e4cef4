package handlers

import (
	"encoding/base64"
	"html/template"
	"sync"

	qrcode "github.com/skip2/go-qrcode"
)

// qrCache keeps recently drawn QR codes as data URLs. Drawing one (a 320 px
// PNG) costs milliseconds of CPU, and a customer's voucher page is opened
// again and again (at the till, after each redemption, for printing), so the
// claim page stays fast under load. Bounded: when full it starts afresh.
type qrCache struct {
	mu  sync.Mutex
	m   map[string]template.URL
	max int
}

func newQRCache(max int) *qrCache { return &qrCache{m: make(map[string]template.URL, max), max: max} }

// dataURL returns the QR code of text as a PNG data URL.
func (q *qrCache) dataURL(text string) (template.URL, error) {
	q.mu.Lock()
	u, ok := q.m[text]
	q.mu.Unlock()
	if ok {
		return u, nil
	}
	png, err := qrcode.Encode(text, qrcode.Medium, 320)
	if err != nil {
		return "", err
	}
	u = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	q.mu.Lock()
	if len(q.m) >= q.max {
		clear(q.m)
	}
	q.m[text] = u
	q.mu.Unlock()
	return u, nil
}
