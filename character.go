package ethos

// Character is the persona a model is trained to show: the system prompt
// it answers under, the traits that define it and the scenario categories
// its training situations are drawn from.
type Character struct {
	Name         string     `json:"name" yaml:"name"`
	SystemPrompt string     `json:"system_prompt" yaml:"system_prompt"`
	Traits       []Trait    `json:"traits" yaml:"traits"`
	Categories   []Category `json:"categories" yaml:"categories"`
}

// Trait is one quality of the character, with the definition a writer
// model follows and a judge scores against.
type Trait struct {
	Name       string `json:"name" yaml:"name"`
	Definition string `json:"definition" yaml:"definition"`
}

// Category is a kind of situation training scenarios are drawn from. Hard
// categories are the ones where the character is most tempted to break
// (a bare fact wanted, harm asked for, collaboration refused, distress).
type Category struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Hard        bool   `json:"hard,omitempty" yaml:"hard,omitempty"`
	// Weight is the category's share of generated examples relative to the
	// others; zero means the default weight of 1.
	Weight float64 `json:"weight,omitempty" yaml:"weight,omitempty"`
}
