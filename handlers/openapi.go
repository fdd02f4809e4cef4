package handlers

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// APIDoc is the parsed OpenAPI document, prepared for the readable docs page.
type APIDoc struct {
	raw         []byte
	Title       string
	Description string
	Endpoints   []APIEndpoint
}

// APIEndpoint is one operation of the API.
type APIEndpoint struct {
	Method, Path, Summary, Description, Auth string
	Params                                   []string
	Body                                     []string
	Responses                                []string
}

// ParseAPIDoc reads an OpenAPI 3 document (JSON). It fails on anything the
// docs page could not show, so a broken document stops the start.
func ParseAPIDoc(raw []byte) (*APIDoc, error) {
	var spec struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Title, Description string
		} `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Type        any    `json:"type"`
					Description string `json:"description"`
				} `json:"properties"`
				Required []string `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") || len(spec.Paths) == 0 {
		return nil, fmt.Errorf("openapi: not an OpenAPI 3 document with paths")
	}
	doc := &APIDoc{raw: raw, Title: spec.Info.Title, Description: spec.Info.Description}
	paths := make([]string, 0, len(spec.Paths))
	for p := range spec.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		methods := make([]string, 0, len(spec.Paths[p]))
		for m := range spec.Paths[p] {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			var op struct {
				Summary, Description string
				Security             []map[string][]string `json:"security"`
				Parameters           []struct {
					Name, In, Description string
					Required              bool
				} `json:"parameters"`
				RequestBody struct {
					Content map[string]struct {
						Schema struct {
							Ref string `json:"$ref"`
						} `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
				Responses map[string]struct {
					Description string `json:"description"`
				} `json:"responses"`
			}
			if err := json.Unmarshal(spec.Paths[p][m], &op); err != nil {
				return nil, fmt.Errorf("openapi %s %s: %w", m, p, err)
			}
			e := APIEndpoint{Method: strings.ToUpper(m), Path: p, Summary: op.Summary, Description: op.Description, Auth: "—"}
			for _, s := range op.Security {
				for k := range s {
					e.Auth = k
				}
			}
			for _, prm := range op.Parameters {
				req := ""
				if prm.Required {
					req = ", required"
				}
				e.Params = append(e.Params, fmt.Sprintf("%s (%s%s)", prm.Name, prm.In, req))
			}
			for _, c := range op.RequestBody.Content {
				name := strings.TrimPrefix(c.Schema.Ref, "#/components/schemas/")
				s, ok := spec.Components.Schemas[name]
				if !ok {
					return nil, fmt.Errorf("openapi %s %s: unknown schema %q", m, p, c.Schema.Ref)
				}
				keys := make([]string, 0, len(s.Properties))
				for k := range s.Properties {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					e.Body = append(e.Body, fmt.Sprintf("%s: %v %s", k, s.Properties[k].Type, s.Properties[k].Description))
				}
			}
			codes := make([]string, 0, len(op.Responses))
			for code := range op.Responses {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			for _, code := range codes {
				e.Responses = append(e.Responses, code+" "+op.Responses[code].Description)
			}
			doc.Endpoints = append(doc.Endpoints, e)
		}
	}
	return doc, nil
}

// Paths lists "METHOD /path" for every operation (tests compare it with the
// router, so the document cannot fall behind the code).
func (d *APIDoc) Paths() []string {
	out := make([]string, 0, len(d.Endpoints))
	for _, e := range d.Endpoints {
		out = append(out, e.Method+" "+e.Path)
	}
	return out
}

// OpenAPIJSON serves the OpenAPI document.
func (h *Handlers) OpenAPIJSON(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(h.opt.APIDoc.raw)
}

type apiDocsPage struct {
	Page
	Doc *APIDoc
}

// APIDocs renders the OpenAPI document as a readable page.
func (h *Handlers) APIDocs(c *fiber.Ctx) error {
	return h.render(c, fiber.StatusOK, "api_docs", apiDocsPage{Page: h.page(c, "api_docs.title"), Doc: h.opt.APIDoc})
}
