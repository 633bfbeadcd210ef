package project_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/project"
)

// Open the project in the directory agora (its ethos.yaml, else the
// offline defaults) and run the whole pipeline, as ethos run does.
func Example() {
	ctx := context.Background()
	p, err := project.Open(ctx, project.Options{Dir: "agora", Log: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	res, err := pipeline.Run(ctx, p.Deps(nil), pipeline.RunOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("trained", res.Model.Name, "evaluation", res.EvalID)
}
