package store

import (
	"context"
	"time"
)

// MaintenanceWindow is a time the service is down for maintenance, as an
// operator scheduled it. The customer sites and the portal warn of it during
// the days before and answer with a maintenance page while it lasts.
type MaintenanceWindow struct {
	ID string
	// Start and End bound the window: it is in force from Start up to, not
	// including, End.
	Start, End time.Time
	// ReasonJA and ReasonEN say why, for customers; either may be empty.
	ReasonJA, ReasonEN string
	CreatedBy          string // who scheduled it, e.g. "operator:cli"
	CreatedAt          time.Time
	// CancelledAt is when an operator called the window off; zero while it
	// stands. A cancelled window is never in force.
	CancelledAt time.Time
}

// Maintenance is the schedule of maintenance windows. A backend implements
// it beside Store.
type Maintenance interface {
	// CreateMaintenance stores w. It is atomic: ErrConflict when w's ID is
	// taken or w overlaps another window that is not cancelled (windows
	// that only touch, one's End the other's Start, do not overlap).
	CreateMaintenance(ctx context.Context, w *MaintenanceWindow) error
	// ListMaintenance returns, by Start and then ID, the windows not
	// cancelled that have not ended at now (the current one and those to
	// come); with includePast, every window, ended and cancelled too.
	ListMaintenance(ctx context.Context, now time.Time, includePast bool) ([]MaintenanceWindow, error)
	// CancelMaintenance calls the window id off at at and returns it
	// cancelled; ErrNotFound for an unknown id, ErrStale (with the window,
	// which keeps its first CancelledAt) when it is already cancelled.
	CancelMaintenance(ctx context.Context, id string, at time.Time) (*MaintenanceWindow, error)
}
