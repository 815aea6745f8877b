// Command tobira is the self-hosted customer sign-in portal: `tobira demo`
// runs it on this machine with no set-up; `tobira help` lists the rest.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // Asia/Tokyo on machines without a zone database

	"github.com/tobira/tobira/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := app.NewMain()
	os.Exit(m.Run(ctx, os.Args[1:]))
}
