// Package static holds the site's CSS, JS and images, embedded into the binary.
package static

import (
	"embed"
	"io/fs"
)

//go:embed css js img vendor
var files embed.FS

// FS returns the embedded static files (paths like "css/app.css").
func FS() fs.FS { return files }
