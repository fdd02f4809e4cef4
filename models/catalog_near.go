package models

import "math"

// nearSearchStartKm is the first search radius around a "near" origin; it
// grows until enough merchants lie inside it. The search (nearOrder in
// catalog_index.go) is exact, like sorting every match by distance, but
// looks at far fewer: only merchants inside a bounding box of radius r count,
// and of those only the ones within the box's inscribed circle — every
// merchant outside is farther than r, so these are the nearest — and r
// widens until enough are found or the box covers the globe.
const nearSearchStartKm = 20

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
