package bridge

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/postgres"
	"github.com/itsmbridge/itsmbridge/core/store/sqlite"
)

// OpenStore opens the configured store.
func OpenStore(ctx context.Context, cfg *config.Config, logger hclog.Logger) (store.Store, error) {
	logger = logger.Named("store")
	switch cfg.Store.Kind {
	case config.StoreSQLite, "":
		st, err := sqlite.Open(ctx, cfg.Store.Path, sqlite.Options{Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("opening sqlite store %s: %w", cfg.Store.Path, err)
		}
		return st, nil
	case config.StorePostgres:
		st, err := postgres.Open(ctx, cfg.Store.DSN, postgres.Options{Logger: logger, MaxConns: int32(cfg.Store.MaxOpenConns)})
		if err != nil {
			// The DSN carries a password: never print it.
			return nil, fmt.Errorf("opening postgres store: %s", cfg.Redact(err.Error()))
		}
		return st, nil
	}
	return nil, fmt.Errorf("unknown store %q", cfg.Store.Kind)
}
