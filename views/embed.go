// Package views holds the HTML templates, the e-mail templates and the
// OpenAPI document, embedded into the binary. The translations beside them
// (i18n/) are embedded by their own package, views/i18n.
package views

import (
	"embed"
	"io/fs"
)

//go:embed layout.html pages partials mail api
var files embed.FS

// FS returns the embedded templates and the OpenAPI document.
func FS() fs.FS { return files }
