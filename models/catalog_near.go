package models

import (
	"context"
	"math"
	"sort"

	"gorm.io/gorm"
)

// nearSearchStartKm is the first search radius around a "near" origin; it
// grows until enough merchants lie inside it.
const nearSearchStartKm = 20

// nearestMerchants returns the merchants of the filtered query q ordered by
// distance from origin (ties by id), skipping offset and returning at most
// n. It is exact, like sorting every match, but reads far less: it fetches
// only id and position of the merchants inside a bounding box (an index on
// status, lat, lng serves it), keeps those within the box's inscribed circle
// of radius r — every merchant outside is farther than r, so these are the
// nearest — and widens r until offset+n of them are found or the box covers
// the globe. Full rows are loaded for the n returned merchants only.
func (s *Store) nearestMerchants(ctx context.Context, q *gorm.DB, origin Place, offset, n int) ([]CatalogHit, error) {
	base := q.Session(&gorm.Session{})
	need := offset + n
	type cand struct {
		ID       uint
		Lat, Lng float64
		d        float64
	}
	var within []cand
	for r := float64(nearSearchStartKm); ; r *= 3 {
		box, whole := boundingBox(origin.Lat, origin.Lng, r)
		var cs []cand
		sel := base.Select("merchants.id, merchants.lat, merchants.lng")
		if !whole {
			sel = sel.Where("merchants.lat BETWEEN ? AND ?", box[0], box[1])
			if box[2] > -180 || box[3] < 180 {
				sel = sel.Where("merchants.lng BETWEEN ? AND ?", box[2], box[3])
			}
		}
		if err := sel.Scan(&cs).Error; err != nil {
			return nil, err
		}
		within = within[:0]
		for _, c := range cs {
			c.d = DistanceKm(origin.Lat, origin.Lng, c.Lat, c.Lng)
			if whole || c.d <= r {
				within = append(within, c)
			}
		}
		if whole || len(within) >= need {
			break
		}
	}
	sort.Slice(within, func(i, j int) bool {
		if within[i].d != within[j].d {
			return within[i].d < within[j].d
		}
		return within[i].ID < within[j].ID
	})
	if offset >= len(within) {
		return nil, nil
	}
	within = within[offset:]
	if len(within) > n {
		within = within[:n]
	}
	ids := make([]uint, len(within))
	for i, c := range within {
		ids[i] = c.ID
	}
	var ms []Merchant
	if err := s.db.WithContext(ctx).Where("id IN ?", ids).Find(&ms).Error; err != nil {
		return nil, err
	}
	byID := make(map[uint]Merchant, len(ms))
	for _, m := range ms {
		byID[m.ID] = m
	}
	hits := make([]CatalogHit, 0, len(within))
	for _, c := range within {
		m, ok := byID[c.ID]
		if !ok {
			continue // deleted between the two reads
		}
		d := c.d
		hits = append(hits, CatalogHit{Merchant: m, DistanceKm: &d})
	}
	return hits, nil
}

// boundingBox returns [minLat, maxLat, minLng, maxLng] in degrees enclosing
// every point within rKm of (lat, lng) on DistanceKm's sphere (J. P.
// Matuschek, "Finding Points Within a Distance of a Latitude/Longitude Using
// Bounding Coordinates"), widened slightly against rounding. whole is true
// when the circle covers the globe.
func boundingBox(lat, lng, rKm float64) (box [4]float64, whole bool) {
	const earth = 6371.0088
	const deg = 180 / math.Pi
	ang := rKm / earth // angular radius in radians
	if ang >= math.Pi {
		return box, true
	}
	pad := 1e-6 + ang*deg*1e-6
	minLat, maxLat := lat-ang*deg-pad, lat+ang*deg+pad
	minLng, maxLng := -180.0, 180.0
	if minLat > -90 && maxLat < 90 {
		s := math.Sin(ang) / math.Cos(lat/deg)
		if s < 1 {
			dLng := math.Asin(s)*deg + pad
			minLng, maxLng = lng-dLng, lng+dLng
			if minLng < -180 || maxLng > 180 { // crosses the antimeridian
				minLng, maxLng = -180, 180
			}
		}
	}
	return [4]float64{math.Max(minLat, -90), math.Min(maxLat, 90), minLng, maxLng}, false
}
