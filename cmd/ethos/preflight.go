package main

// configFile names the project's config as the user knows it.
func (p *project) configFile() string {
	if p.cfg.Path == "" {
		return "ethos.yaml"
	}
	return rel(p.dir, p.cfg.Path)
}
