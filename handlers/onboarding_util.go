package handlers

import (
	"html"
	"strconv"
)

func htmlEscape(s string) string { return html.EscapeString(s) }

func itoa(n int) string { return strconv.Itoa(n) }
