// Package views holds the HTML templates, e-mail templates and translations,
// embedded into the binary.
package views

import (
	"embed"
	"io/fs"
)

//go:embed layout.html pages partials mail i18n api
var files embed.FS

// FS returns the embedded templates and translation files.
func FS() fs.FS { return files }
