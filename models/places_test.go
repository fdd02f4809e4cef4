package models

import (
	"strings"
	"testing"
	"time"
)

func loadPlacesT(t testing.TB) *Places {
	t.Helper()
	p, err := LoadPlaces()
	if err != nil {
		t.Fatalf("LoadPlaces: %v", err)
	}
	return p
}

func near(t *testing.T, what string, pl Place, lat, lng, km float64) {
	t.Helper()
	if d := DistanceKm(pl.Lat, pl.Lng, lat, lng); d > km {
		t.Errorf("%s: %+v is %.1f km from (%.2f, %.2f), want <= %.0f km", what, pl, d, lat, lng, km)
	}
}

func TestPlacesLoad(t *testing.T) {
	start := time.Now()
	p := loadPlacesT(t)
	t.Logf("LoadPlaces took %v", time.Since(start))
	pcs, names := p.Len()
	if pcs < 8000 || names < 10000 {
		t.Fatalf("Len() = %d postcodes, %d names; want >= 8000 and >= 10000", pcs, names)
	}
	// Every postcode has a name and a point inside Germany's bounding box.
	for _, pl := range p.postcodes {
		if pl.Name == "" || pl.Lat < 47.2 || pl.Lat > 55.1 || pl.Lng < 5.8 || pl.Lng > 15.1 {
			t.Errorf("bad postcode row %+v", pl)
		}
	}
}

func TestPlacesByPostcode(t *testing.T) {
	p := loadPlacesT(t)
	cases := []struct {
		pc, name string
		lat, lng float64
	}{
		{"50667", "Köln", 50.94, 6.96},
		{"53111", "Bonn", 50.73, 7.10},
		{"40210", "Düsseldorf", 51.22, 6.78},
		{"10115", "Berlin", 52.52, 13.40},
		{"80331", "München", 48.14, 11.58},
		{"60311", "Frankfurt am Main", 50.11, 8.68},
		{"15230", "Frankfurt (Oder)", 52.34, 14.55},
		{"01067", "Dresden", 51.05, 13.74},
	}
	for _, c := range cases {
		pl, ok := p.ByPostcode(c.pc)
		if !ok {
			t.Errorf("ByPostcode(%q) not found", c.pc)
			continue
		}
		if pl.Name != c.name || pl.Postcode != c.pc {
			t.Errorf("ByPostcode(%q) = %+v, want %s", c.pc, pl, c.name)
		}
		near(t, c.pc, pl, c.lat, c.lng, 10)
	}
	for _, bad := range []string{"", "5066", "506677", "99999x", "abcde", "00000"} {
		if pl, ok := p.ByPostcode(bad); ok {
			t.Errorf("ByPostcode(%q) = %+v, want not found", bad, pl)
		}
	}
}

func TestPlacesByName(t *testing.T) {
	p := loadPlacesT(t)
	cases := []struct {
		q, name  string
		lat, lng float64
	}{
		{"Köln", "Köln", 50.94, 6.96},
		{"koeln", "Köln", 50.94, 6.96},
		{"KOELN", "Köln", 50.94, 6.96},
		{"Koln", "Köln", 50.94, 6.96},
		{"  köln ", "Köln", 50.94, 6.96},
		{"Düsseldorf", "Düsseldorf", 51.22, 6.78},
		{"Duesseldorf", "Düsseldorf", 51.22, 6.78},
		{"dusseldorf", "Düsseldorf", 51.22, 6.78},
		{"Muenchen", "München", 48.14, 11.58},
		{"Frankfurt am Main", "Frankfurt am Main", 50.11, 8.68},
		{"frankfurt-am-main", "Frankfurt am Main", 50.11, 8.68},
		{"Frankfurt", "Frankfurt am Main", 50.11, 8.68},
		{"Frankfurt a.M.", "Frankfurt am Main", 50.11, 8.68},
		{"Frankfurt (Oder)", "Frankfurt (Oder)", 52.34, 14.55},
		{"Gießen", "Gießen", 50.58, 8.68},
		{"Giessen", "Gießen", 50.58, 8.68},
		{"St. Ingbert", "Sankt Ingbert", 49.28, 7.11},
		// other spellings
		{"Munich", "München", 48.14, 11.58},
		{"Cologne", "Köln", 50.94, 6.96},
		{"Freiburg", "Freiburg im Breisgau", 47.99, 7.85},
		{"Dessau", "Dessau-Roßlau", 51.84, 12.24},
		{"Hansestadt Stade", "Stade", 53.60, 9.47},
	}
	for _, c := range cases {
		pl, ok := p.ByName(c.q)
		if !ok {
			t.Errorf("ByName(%q) not found", c.q)
			continue
		}
		if pl.Name != c.name {
			t.Errorf("ByName(%q) = %+v, want %s", c.q, pl, c.name)
		}
		near(t, c.q, pl, c.lat, c.lng, 10)
	}
	if pl, _ := p.ByName("Köln"); pl.Postcode != "50667" {
		t.Errorf("ByName(Köln).Postcode = %q, want 50667", pl.Postcode)
	}
	for _, bad := range []string{"", "   ", "99999x", "Atlantis an der Spree", "-"} {
		if pl, ok := p.ByName(bad); ok {
			t.Errorf("ByName(%q) = %+v, want not found", bad, pl)
		}
	}
}

func TestPlacesResolve(t *testing.T) {
	p := loadPlacesT(t)
	cases := []struct{ q, pc, name string }{
		{"50667", "50667", "Köln"},
		{" 53111 ", "53111", "Bonn"},
		{"koeln", "50667", "Köln"},
		{"Düsseldorf", "", "Düsseldorf"},
		{"50667 Köln", "50667", "Köln"},
		{"Köln 50667", "50667", "Köln"},
		{"D-40210 Düsseldorf", "40210", "Düsseldorf"},
		{"53111 Köln", "53111", "Bonn"}, // a known postcode wins
		{"99999 Köln", "50667", "Köln"}, // an unknown one does not
		{"Köln, Deutschland", "50667", "Köln"},
		{"Frankfurt am Main", "", "Frankfurt am Main"},
	}
	for _, c := range cases {
		pl, ok := p.Resolve(c.q)
		if !ok {
			t.Errorf("Resolve(%q) not found", c.q)
			continue
		}
		if pl.Name != c.name || (c.pc != "" && pl.Postcode != c.pc) {
			t.Errorf("Resolve(%q) = %+v, want %s %s", c.q, pl, c.pc, c.name)
		}
	}
	for _, bad := range []string{"", "  ", "99999x", "99999", "1234", "Atlantis"} {
		if pl, ok := p.Resolve(bad); ok {
			t.Errorf("Resolve(%q) = %+v, want not found", bad, pl)
		}
	}
}

func TestPlacesDistance(t *testing.T) {
	p := loadPlacesT(t)
	k, _ := p.Resolve("Köln")
	b, _ := p.Resolve("Bonn")
	if d := DistanceKm(k.Lat, k.Lng, b.Lat, b.Lng); d < 24 || d > 28 {
		t.Errorf("Köln–Bonn = %.1f km, want 24–28", d)
	}
	if d := DistanceKm(50, 8, 50, 8); d != 0 {
		t.Errorf("distance to itself = %v", d)
	}
	// Berlin–München is about 504 km.
	be, _ := p.ByPostcode("10115")
	mu, _ := p.ByPostcode("80331")
	if d := DistanceKm(be.Lat, be.Lng, mu.Lat, mu.Lng); d < 490 || d > 515 {
		t.Errorf("Berlin–München = %.1f km, want about 504", d)
	}
	// One degree of latitude is about 111.2 km.
	if d := DistanceKm(50, 7, 51, 7); d < 111.1 || d > 111.3 {
		t.Errorf("one degree of latitude = %.2f km", d)
	}
}

func TestPlacesSuggest(t *testing.T) {
	p := loadPlacesT(t)

	got := p.Suggest("506", 5)
	if len(got) != 5 {
		t.Fatalf("Suggest(506, 5) = %+v, want 5", got)
	}
	for i, pl := range got {
		if pl.Name != "Köln" || !strings.HasPrefix(pl.Postcode, "506") {
			t.Errorf("Suggest(506)[%d] = %+v, want a Köln postcode", i, pl)
		}
		if i > 0 && got[i-1].Postcode >= pl.Postcode {
			t.Errorf("Suggest(506) not in postcode order: %+v", got)
		}
	}
	if got[0].Postcode != "50667" {
		t.Errorf("Suggest(506)[0] = %+v, want 50667", got[0])
	}
	// 501xx is the Rhein-Erft district west of Köln (Bergheim, Kerpen, ...).
	for _, pl := range p.Suggest("501", 5) {
		if !strings.HasPrefix(pl.Postcode, "501") || pl.Name == "" {
			t.Errorf("Suggest(501) gave %+v", pl)
		}
		near(t, "501", pl, 50.94, 6.96, 40)
	}

	names := p.Suggest("Kö", 3)
	if len(names) == 0 || names[0].Name != "Köln" {
		t.Errorf("Suggest(Kö, 3) = %+v, want Köln first", names)
	}
	if len(names) > 3 {
		t.Errorf("Suggest(Kö, 3) returned %d", len(names))
	}
	if s := p.Suggest("koel", 1); len(s) != 1 || s[0].Name != "Köln" {
		t.Errorf("Suggest(koel, 1) = %+v", s)
	}
	if s := p.Suggest("frankfurt", 2); len(s) != 2 || s[0].Name != "Frankfurt am Main" {
		t.Errorf("Suggest(frankfurt, 2) = %+v", s)
	}
	if s := p.Suggest("Ber", 1); len(s) != 1 || s[0].Name != "Berlin" {
		t.Errorf("Suggest(Ber, 1) = %+v", s)
	}
	// A place found by its name and by an alias is listed once.
	if s := p.Suggest("Freiburg", 5); len(s) != 2 || s[0].Name != "Freiburg im Breisgau" || s[1].Name != "Freiburg (Elbe)" {
		t.Errorf("Suggest(Freiburg, 5) = %+v", s)
	}
	for _, c := range []struct {
		q string
		n int
	}{{"", 5}, {"506", 0}, {"5066777", 5}, {"zzzzqx", 5}, {"99999", 5}} {
		if s := p.Suggest(c.q, c.n); len(s) != 0 {
			t.Errorf("Suggest(%q, %d) = %+v, want none", c.q, c.n, s)
		}
	}
}

func TestPlacesFold(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Köln", "koeln"},
		{"KÖLN", "koeln"},
		{"Gießen", "giessen"},
		{"Frankfurt (Oder)", "frankfurt oder"},
		{"St. Ingbert", "sankt ingbert"},
		{"St", "st"},
	} {
		if got := placeFold(c.in); got != c.want {
			t.Errorf("placeFold(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if placeLoose(placeFold("Köln")) != placeLoose(placeFold("Koln")) {
		t.Error("Köln and Koln should share a loose key")
	}
}

func BenchmarkPlacesLoad(b *testing.B) {
	for b.Loop() {
		if _, err := LoadPlaces(); err != nil {
			b.Fatal(err)
		}
	}
}
