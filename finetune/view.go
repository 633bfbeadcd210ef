package finetune

import "github.com/ethos-toolkit/ethos"

// JobView is a job as the commands and the dashboard show it: the job,
// its model's registry name once completed, why the provider could not be
// asked, and its Weights & Biases run.
type JobView struct {
	ethos.FineTuneJob
	Model string `json:"model,omitempty"` // the registry name, once completed
	Stale string `json:"stale,omitempty"` // why the provider could not be asked; the job is the stored view
	// WandbURL is the job's Weights & Biases run, when it logs to one.
	WandbURL string `json:"wandb_url,omitempty"`
}

// ViewOf is the view of a job as u found it.
func ViewOf(u Update) JobView {
	v := JobView{FineTuneJob: u.Job, WandbURL: u.Job.WandbURL()}
	if u.Job.State == ethos.FineTuneCompleted {
		v.Model = ModelName(u.Job)
	}
	if u.Stale != nil {
		v.Stale = u.Stale.Error()
	}
	return v
}

// ViewsOf are the views of the jobs updates found, in their order.
func ViewsOf(updates []Update) []JobView {
	views := make([]JobView, 0, len(updates))
	for _, u := range updates {
		views = append(views, ViewOf(u))
	}
	return views
}
