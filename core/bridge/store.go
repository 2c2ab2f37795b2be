package bridge

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/sqlite"
)

// OpenStore opens the configured store.
func OpenStore(ctx context.Context, cfg *config.Config, logger hclog.Logger) (store.Store, error) {
	switch cfg.Store.Kind {
	case config.StoreSQLite, "":
		st, err := sqlite.Open(ctx, cfg.Store.Path, sqlite.Options{Logger: logger.Named("store")})
		if err != nil {
			return nil, fmt.Errorf("opening sqlite store %s: %w", cfg.Store.Path, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("store %q is not available in this build", cfg.Store.Kind)
}
