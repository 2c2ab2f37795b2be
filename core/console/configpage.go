package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/itsmbridge/itsmbridge/core/config"
)

type configData struct {
	Reload   Reload
	Dump     config.Dump
	Backends []configBackend
	DumpJSON string
}

// configBackend is a backend's configuration next to its plugin.
type configBackend struct {
	config.DumpBackend
	ID           string
	Plugin       string
	APIVersions  string
	Capabilities []string
	Path         string
	Running      bool
	Problem      string
	Restarts     int64
	ConfigJSON   string
}

func (c *Console) config(w http.ResponseWriter, r *http.Request) {
	cfg := c.o.Runtime.Config()
	d := configData{Reload: c.o.Runtime.LastReload(), Dump: cfg.Dump()}
	running := map[string]Backend{}
	for _, b := range c.o.Runtime.Backends() {
		running[b.ID.String()] = b
	}
	for _, db := range d.Dump.Backends {
		row := configBackend{DumpBackend: db, ID: db.Type + "." + db.Name}
		if b, ok := running[row.ID]; ok {
			row.Plugin = pluginLabel(b)
			info := b.Status.Info
			if info.Name == "" {
				info.Name, info.Version, info.APIVersions, info.Capabilities = b.Info.Name, b.Info.Version, b.Info.APIVersions, b.Info.Capabilities
			}
			row.APIVersions = strings.Join(info.APIVersions, ", ")
			row.Capabilities = info.Capabilities
			row.Path = b.Info.Path
			row.Running, row.Restarts = b.Status.Running, b.Status.Restarts
			row.Problem = firstNonEmpty(b.Status.LastError, b.Status.HealthError)
		}
		if db.Config != nil {
			if js, err := json.MarshalIndent(db.Config, "", "  "); err == nil {
				row.ConfigJSON = string(js)
			}
		}
		d.Backends = append(d.Backends, row)
	}
	js, err := json.MarshalIndent(d.Dump, "", "  ")
	if err != nil {
		c.problem(w, r, fmt.Errorf("encoding the configuration dump: %w", err))
		return
	}
	d.DumpJSON = string(js)
	c.render(w, r, http.StatusOK, "config", d)
}
