package ethos

import "runtime/debug"

// Version returns the version of the ethos module in the running binary
// and, when the build recorded it, the first twelve digits of the VCS
// revision it was built from ("v0.4.0 1a2b3c4d5e6f", or "(devel) …" for a
// build from a checkout). A binary without build information answers
// "(unknown)".
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	return versionOf(info)
}

// versionOf reads the main module's version and revision from info.
func versionOf(info *debug.BuildInfo) string {
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
