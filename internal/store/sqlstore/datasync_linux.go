package sqlstore

import (
	"os"
	"syscall"
)

// datasync writes f's data to the disk, and of its metadata only what
// reading the data back needs (fdatasync, as SQLite syncs its files).
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
