package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"gorm.io/gorm"

	"trostpflaster/models"
)

// DemoLogin is a seeded account printed by the demo command.
type DemoLogin struct {
	Role, Email, Password string
}

type demoMerchant struct {
	slug, name, category, street, postcode, city, website, hours, description string
	lat, lng                                                                  float64 // approximate street position
}

// The demo partners are fictional; postcodes and positions are real streets
// so distances work.
var demoMerchants = []demoMerchant{
	{"baeckerei-sonnenkorn", "Bäckerei Sonnenkorn", "bakery", "Severinstraße 112", "50678", "Köln", "https://sonnenkorn.example", "Mo–Fr 6:30–18:30\nSa 7:00–14:00", "Sauerteigbrot, Rosinenstuten und Kaffee zum Mitnehmen – seit drei Generationen im Severinsviertel.", 50.9270, 6.9590},
	{"buchhandlung-seitenweise", "Buchhandlung Seitenweise", "bookshop", "Zülpicher Straße 20", "50674", "Köln", "https://seitenweise.example", "Mo–Sa 10:00–19:00", "Romane, Kinderbücher und Empfehlungen, die man nicht im Algorithmus findet.", 50.9300, 6.9380},
	{"cafe-rheinblick", "Café Rheinblick", "cafe", "Frankenwerft 7", "50667", "Köln", "https://rheinblick.example", "Täglich 9:00–19:00", "Frühstück, Kuchen aus eigener Backstube und der schönste Blick auf den Dom.", 50.9380, 6.9620},
	{"blumen-wildwuchs", "Blumen Wildwuchs", "flowers", "Venloer Straße 301", "50823", "Köln", "https://wildwuchs.example", "Mo–Fr 9:00–18:30\nSa 9:00–15:00", "Saisonale Sträuße aus der Region, liebevoll gebunden.", 50.9490, 6.9140},
	{"fahrradwerkstatt-speiche", "Fahrradwerkstatt Speiche", "bike", "Deutzer Freiheit 40", "50679", "Köln", "https://speiche.example", "Di–Sa 10:00–18:00", "Reparatur, Inspektion und gebrauchte Räder mit Garantie.", 50.9370, 6.9760},
	{"schokoladen-manufaktur-kakaobohne", "Schokoladenmanufaktur Kakaobohne", "chocolatier", "Bonner Talweg 55", "53113", "Bonn", "https://kakaobohne.example", "Mo–Sa 10:00–18:00", "Pralinen und Tafeln aus fair gehandeltem Kakao, von Hand gefertigt.", 50.7280, 7.1010},
	{"buecherstube-beethoven", "Bücherstube am Münster", "bookshop", "Remigiusstraße 4", "53111", "Bonn", "https://buecherstube.example", "Mo–Sa 9:30–19:00", "Klassiker, Bonner Stadtgeschichte und eine gemütliche Leseecke.", 50.7350, 7.1010},
	{"cafe-poppelsdorf", "Café Poppelsdorf", "cafe", "Clemens-August-Straße 16", "53115", "Bonn", "https://poppelsdorf.example", "Mo–So 8:30–18:00", "Hausgemachte Torten und Kaffee von der Bonner Rösterei nebenan.", 50.7240, 7.0880},
	{"weinhandlung-rebstock", "Weinhandlung Rebstock", "wine", "Oxfordstraße 12", "53111", "Bonn", "https://rebstock.example", "Di–Fr 11:00–19:00\nSa 10:00–16:00", "Weine von Ahr, Mosel und Mittelrhein – mit Probierstube.", 50.7380, 7.0970},
	{"feinkost-koenigsallee", "Feinkost an der Kö", "deli", "Grabbeplatz 3", "40213", "Düsseldorf", "https://feinkost-koe.example", "Mo–Sa 10:00–19:00", "Käse, Antipasti und Düsseldorfer Senf in schönen Geschenkkörben.", 51.2280, 6.7770},
	{"blumenhaus-rosenrot", "Blumenhaus Rosenrot", "flowers", "Lorettostraße 18", "40219", "Düsseldorf", "https://rosenrot.example", "Mo–Fr 9:00–19:00\nSa 9:00–16:00", "Blumen, Pflanzen und Workshops für Kranzbinden im Unterbilk.", 51.2140, 6.7700},
	{"radhaus-flingern", "Radhaus Flingern", "bike", "Ackerstraße 90", "40233", "Düsseldorf", "https://radhaus.example", "Mo–Fr 10:00–19:00\nSa 10:00–15:00", "Lastenräder, Reparaturen und eine Werkstatt zum Selbermachen.", 51.2280, 6.8030},
	{"spielzeugkiste-pempelfort", "Spielzeugkiste Pempelfort", "toys", "Nordstraße 45", "40477", "Düsseldorf", "https://spielzeugkiste.example", "Mo–Sa 10:00–18:30", "Holzspielzeug, Bausätze und Brettspiele für die ganze Familie.", 51.2390, 6.7800},
	{"baeckerei-altstadt-duesseldorf", "Altstadt-Bäckerei Möller", "bakery", "Bolkerstraße 22", "40213", "Düsseldorf", "https://moeller.example", "Täglich 7:00–18:00", "Röggelchen, Apfeltaschen und der beste Platz für eine Pause in der Altstadt.", 51.2260, 6.7740},
}

// Demo passwords are printed by `demo` and `seed-demo`; they only ever
// exist in demo databases.
var demoLogins = []DemoLogin{
	{"platform admin", "admin@trostpflaster.example", "demo-admin-2026"},
	{"company admin (Beispiel-Verlag)", "chefin@beispiel-verlag.example", "demo-chefin-2026"},
	{"company agent (Beispiel-Verlag)", "agent1@beispiel-verlag.example", "demo-agent-2026"},
	{"company agent (Beispiel-Verlag)", "agent2@beispiel-verlag.example", "demo-agent-2026"},
	{"merchant owner (Bäckerei Sonnenkorn)", "inhaber@sonnenkorn.example", "demo-partner-2026"},
}

// SeedDemo creates the demo region with its partners, the company
// beispiel-verlag with an admin and two agents, a merchant owner and a
// platform admin. Running it again changes nothing.
func SeedDemo(ctx context.Context, store *models.Store, places *models.Places) ([]DemoLogin, error) {
	db := store.DB().WithContext(ctx)
	var region models.Region
	if err := db.Where(models.Region{Slug: "rheinland"}).
		Attrs(models.Region{Name: "Rheinland", Currency: "EUR", CommissionBP: 500}).
		FirstOrCreate(&region).Error; err != nil {
		return nil, err
	}
	for _, d := range demoMerchants {
		if _, ok := places.ByPostcode(d.postcode); !ok {
			return nil, fmt.Errorf("seed: postcode %s of %s is not in the place table", d.postcode, d.slug)
		}
		m := models.Merchant{RegionID: region.ID, Slug: d.slug, Name: d.name, Category: d.category,
			Description: d.description, Address: d.street, Postcode: d.postcode, City: d.city,
			Lat: d.lat, Lng: d.lng, Website: d.website, OpeningHours: d.hours,
			ContactEmail: "hallo@" + d.slug + ".example", Status: models.MerchantApproved,
			MerchantOnboarding: models.MerchantOnboarding{OfferMode: models.OfferSteps, OfferStepList: "1000,2500,5000", RedeemWhere: models.RedeemInStore}}
		if err := db.Where(models.Merchant{Slug: d.slug}).Attrs(m).FirstOrCreate(&m).Error; err != nil {
			return nil, err
		}
	}
	var company models.Company
	if err := db.Where(models.Company{Slug: "beispiel-verlag"}).
		Attrs(models.Company{RegionID: region.ID, Name: "Beispiel-Verlag GmbH"}).
		FirstOrCreate(&company).Error; err != nil {
		return nil, err
	}
	owner, err := store.MerchantBySlug(ctx, "baeckerei-sonnenkorn")
	if err != nil {
		return nil, err
	}
	type member struct {
		login     DemoLogin
		name      string
		company   *uint
		merchant  *uint
		role      string
		platAdmin bool
	}
	members := []member{
		{demoLogins[0], "Plattform-Admin", nil, nil, "", true},
		{demoLogins[1], "Claudia Chefin", &company.ID, nil, models.RoleCompanyAdmin, false},
		{demoLogins[2], "Anton Agent", &company.ID, nil, models.RoleCompanyAgent, false},
		{demoLogins[3], "Berta Agentin", &company.ID, nil, models.RoleCompanyAgent, false},
		{demoLogins[4], "Hanna Sonnenkorn", nil, &owner.ID, models.RoleMerchantOwner, false},
	}
	for _, m := range members {
		u, err := store.UserByEmail(ctx, m.login.Email)
		if errors.Is(err, models.ErrNotFound) {
			u, err = store.CreateUser(ctx, models.NewUser{Email: m.login.Email, Name: m.name, Password: m.login.Password, PlatformAdmin: m.platAdmin})
			if err != nil {
				return nil, err
			}
			if m.role != "" {
				if err := store.AddMember(ctx, u.ID, m.company, m.merchant, m.role); err != nil {
					return nil, err
				}
			}
		} else if err != nil {
			return nil, err
		}
	}
	// Demo agents send up to 25 € per gift and 200 € a month without asking.
	for _, l := range demoLogins[2:4] {
		u, err := store.UserByEmail(ctx, l.Email)
		if err != nil {
			return nil, err
		}
		if err := store.EnsureAgentLimit(ctx, company.ID, u.ID, 25_00, 200_00); err != nil {
			return nil, err
		}
	}
	if err := store.EnsureGiftReasons(ctx, company.ID); err != nil {
		return nil, err
	}
	if _, err := store.GrantCredit(ctx, company.ID, 500_00, "seed:credit:beispiel-verlag", "demo credit", models.ActorSystem); err != nil && !errors.Is(err, gorm.ErrDuplicatedKey) {
		return nil, err
	}
	return demoLogins, nil
}

func printDemo(w io.Writer, cfg Config, logins []DemoLogin) {
	fmt.Fprintf(w, "\nTrostpflaster demo is ready: %s\n\nDemo logins (password in brackets):\n", cfg.BaseURL)
	for _, l := range logins {
		fmt.Fprintf(w, "  %-38s %s  [%s]\n", l.Role, l.Email, l.Password)
	}
	fmt.Fprintf(w, "\nMails land in %s/dev/mail (no SMTP_URL set).\n\n", cfg.BaseURL)
}
