//go:build race

package basicauth

// raceEnabled: timing tests mean nothing under the race detector.
const raceEnabled = true
