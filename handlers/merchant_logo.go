package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"trostpflaster/models"
)

// Decoding limits: a small file can describe a huge image (a "pixel
// flood"), so the header is checked before anything is decoded.
const (
	logoMaxInputSide   = 6000
	logoMaxInputPixels = 16_000_000
)

// processLogo checks an uploaded logo and returns it scaled to fit
// models.LogoMaxSide, re-encoded as PNG (which also drops metadata and
// anything hidden after the image). The type is detected from the content,
// never from the file name or the browser's claim: PNG, JPEG and WebP only.
func processLogo(data []byte) (models.LogoImage, error) {
	bad := func(msg string) (models.LogoImage, error) {
		return models.LogoImage{}, models.ValidationErrors{"logo": msg}
	}
	if len(data) == 0 {
		return bad(models.MsgRequired)
	}
	if len(data) > models.LogoMaxBytes {
		return bad(models.MsgFileTooLarge)
	}
	var decodeConfig func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch http.DetectContentType(data) {
	case "image/png":
		decodeConfig, decode = png.DecodeConfig, png.Decode
	case "image/jpeg":
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	case "image/webp":
		decodeConfig, decode = webp.DecodeConfig, webp.Decode
	default:
		return bad(models.MsgImageType)
	}
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return bad(models.MsgImageType)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > logoMaxInputSide || cfg.Height > logoMaxInputSide || cfg.Width*cfg.Height > logoMaxInputPixels {
		return bad(models.MsgImageDimensions)
	}
	src, err := decode(bytes.NewReader(data))
	if err != nil {
		return bad(models.MsgImageType)
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > models.LogoMaxSide || h > models.LogoMaxSide {
		if w >= h {
			w, h = models.LogoMaxSide, max(1, h*models.LogoMaxSide/w)
		} else {
			w, h = max(1, w*models.LogoMaxSide/h), models.LogoMaxSide
		}
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, dst); err != nil {
		return models.LogoImage{}, err
	}
	sum := sha256.Sum256(out.Bytes())
	return models.LogoImage{ContentType: "image/png", Data: out.Bytes(), Width: w, Height: h, Hash: hex.EncodeToString(sum[:])}, nil
}

// ProfileLogo saves step 4: a multipart upload of field "logo" (at most
// models.LogoMaxBytes; larger files get 422 with a message).
func (h *Handlers) ProfileLogo(c *fiber.Ctx) error {
	m := merchantMemberOf(c).Merchant
	img, err := readLogo(c)
	if err == nil {
		err = h.store.SetMerchantLogo(c.UserContext(), m.ID, img, models.UserActor(currentUser(c).ID))
	}
	return h.saveStepResult(c, "logo", map[string]string{}, err)
}

func readLogo(c *fiber.Ctx) (models.LogoImage, error) {
	fh, err := c.FormFile("logo")
	if err != nil {
		return models.LogoImage{}, models.ValidationErrors{"logo": models.MsgRequired}
	}
	if fh.Size > models.LogoMaxBytes {
		return models.LogoImage{}, models.ValidationErrors{"logo": models.MsgFileTooLarge}
	}
	f, err := fh.Open()
	if err != nil {
		return models.LogoImage{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, models.LogoMaxBytes+1))
	if err != nil {
		return models.LogoImage{}, err
	}
	return processLogo(data)
}

// ProfileLogoDelete removes the logo.
func (h *Handlers) ProfileLogoDelete(c *fiber.Ctx) error {
	m := merchantMemberOf(c).Merchant
	err := h.store.DeleteMerchantLogo(c.UserContext(), m.ID, models.UserActor(currentUser(c).ID))
	var v models.ValidationErrors
	if errors.As(err, &v) {
		return h.renderStep(c, fiber.StatusUnprocessableEntity, "logo", map[string]string{}, err)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "profile_saved")
	return seeOther(c, "/merchant/profile/logo?m="+url.QueryEscape(m.Slug))
}

// PartnerLogo serves a merchant's logo. Like the profile page it is public
// only for approved merchants (otherwise 404, except for the merchant's own
// members and platform admins). Links carry ?v=<hash>, so a matching
// request may be cached for a year; ETag answers the rest with 304.
func (h *Handlers) PartnerLogo(c *fiber.Ctx) error {
	m, err := h.store.MerchantBySlug(c.UserContext(), strings.Clone(c.Params("slug")))
	if err != nil {
		return err
	}
	// Not h.page: that would consume a pending flash message.
	p := Page{User: currentUser(c)}
	p.Memberships, _ = c.Locals(localMemberships).([]models.Membership)
	public := m.Status == models.MerchantApproved
	if !public && !canSeeMerchant(p, m.ID) {
		return models.ErrNotFound
	}
	l, err := h.store.MerchantLogoByID(c.UserContext(), m.ID)
	if err != nil {
		return err
	}
	etag := `"` + l.Hash + `"`
	switch {
	case !public:
		c.Set(fiber.HeaderCacheControl, "private, no-cache")
	case c.Query("v") == l.Hash:
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	default:
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	}
	c.Set(fiber.HeaderETag, etag)
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, l.ContentType)
	c.Set(fiber.HeaderContentDisposition, "inline")
	return c.Send(l.Data)
}
