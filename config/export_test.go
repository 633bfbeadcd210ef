package config

// ParseModelRef exposes parseModelRef to the package's external tests.
var ParseModelRef = parseModelRef
