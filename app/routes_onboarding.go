package app

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"trostpflaster/handlers"
)

// onboardingRoutes registers the merchant profile wizard, capacity and team
// settings (owner only), invitation links, logos and the platform admin's
// review of merchants.
func onboardingRoutes(app *fiber.App, web, api fiber.Router, h *handlers.Handlers, storage fiber.Storage, cfg Config) {
	owner := []fiber.Handler{h.RequireUser, h.RequireMerchantOwner}
	with := func(hs ...fiber.Handler) []fiber.Handler { return append(append([]fiber.Handler{}, owner...), hs...) }

	web.Get("/merchant/profile", with(h.ProfileStep)...)
	web.Get("/merchant/profile/:step", with(h.ProfileStep)...)
	web.Post("/merchant/profile/business", with(h.ProfileBusiness)...)
	web.Post("/merchant/profile/address", with(h.ProfileAddress)...)
	web.Post("/merchant/profile/contact", with(h.ProfileContact)...)
	web.Post("/merchant/profile/logo", with(h.ProfileLogo)...)
	web.Post("/merchant/profile/logo/delete", with(h.ProfileLogoDelete)...)
	web.Post("/merchant/profile/offer", with(h.ProfileOffer)...)
	web.Post("/merchant/profile/submit", with(h.ProfileSubmit)...)
	web.Get("/merchant/places", h.RequireUser, h.PlaceSuggest)
	web.Get("/merchant/capacity", with(h.CapacityForm)...)
	web.Post("/merchant/capacity", with(h.CapacitySave)...)
	web.Get("/merchant/staff", with(h.StaffPage)...)
	web.Post("/merchant/staff/invite", with(h.StaffInvite)...)
	web.Post("/merchant/staff/:uid/remove", with(h.StaffRemove)...)
	web.Post("/merchant/staff/invites/:id/revoke", with(h.StaffInviteRevoke)...)

	inviteLimit := limiter.New(limiter.Config{
		Max: 20, Expiration: 15 * time.Minute, Storage: storage,
		KeyGenerator: func(c *fiber.Ctx) string { return "invite:ip:" + handlers.ClientIP(c) },
		LimitReached: func(c *fiber.Ctx) error { return fiber.ErrTooManyRequests },
	})
	web.Get("/invite/:token", h.InviteForm)
	web.Post("/invite/:token", inviteLimit, h.InviteAccept)

	web.Get("/partner/:slug/logo", h.PartnerLogo)

	web.Get("/admin/merchants", h.RequirePlatformAdmin, h.AdminMerchants)
	web.Get("/admin/merchants/:id", h.RequirePlatformAdmin, h.AdminMerchant)
	for _, action := range []string{"approve", "reject", "suspend", "reactivate"} {
		web.Post("/admin/merchants/:id/"+action, h.RequirePlatformAdmin, h.AdminMerchantDecide(action))
	}
}
