package sqlite

import (
	"context"

	"github.com/ethos-toolkit/ethos"
)

// Placeholder until the fine-tune tables exist (migration 0003).

var _ ethos.FineTuneStore = (*DB)(nil)

func notYet(op string) error {
	return ethos.Errorf(ethos.Internal, "sqlite: %s: not implemented yet", op)
}

func (d *DB) PutFile(ctx context.Context, f *ethos.File) error { return notYet("PutFile") }
func (d *DB) FileByHash(ctx context.Context, provider, purpose, sha256 string) (ethos.File, error) {
	return ethos.File{}, notYet("FileByHash")
}
func (d *DB) PutJob(ctx context.Context, j *ethos.FineTuneJob) error { return notYet("PutJob") }
func (d *DB) Job(ctx context.Context, id string) (ethos.FineTuneJob, error) {
	return ethos.FineTuneJob{}, notYet("Job")
}
func (d *DB) Jobs(ctx context.Context, f ethos.FineTuneFilter) ([]ethos.FineTuneJob, error) {
	return nil, notYet("Jobs")
}
func (d *DB) AddEvents(ctx context.Context, jobID string, events []ethos.FineTuneEvent) (int, error) {
	return 0, notYet("AddEvents")
}
func (d *DB) Events(ctx context.Context, jobID string) ([]ethos.FineTuneEvent, error) {
	return nil, notYet("Events")
}
func (d *DB) PutModel(ctx context.Context, m *ethos.Model) error { return notYet("PutModel") }
func (d *DB) Model(ctx context.Context, name string) (ethos.Model, error) {
	return ethos.Model{}, notYet("Model")
}
func (d *DB) Models(ctx context.Context) ([]ethos.Model, error) { return nil, notYet("Models") }
