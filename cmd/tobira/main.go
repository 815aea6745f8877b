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
	// The first signal asks for a clean stop; a second one, while that
	// stop hangs (a server that does not finish, a database that does not
	// answer), ends the process as it would without this program's care.
	go func() {
		<-ctx.Done()
		stop()
	}()
	m := app.NewMain()
	os.Exit(m.Run(ctx, os.Args[1:]))
}
