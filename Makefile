# itsmbridge — build, test and demo targets. Only Go is needed.
GO       ?= go
BIN      := bin
PLUGINS  := servicenow jira cherwell
BUF      := github.com/bufbuild/buf/cmd/buf@v1.75.0
GOFILES   = $(shell git ls-files '*.go' 2>/dev/null | grep -v '\.pb\.go$$')

.PHONY: all build test demo bench proto lint vet fmt-check clean

all: build

## build: bin/itsmbridge, bin/plugins/itsmbridge-plugin-*, bin/itsmbridge-sandbox
build:
	$(GO) build -o $(BIN)/itsmbridge ./core/cmd/itsmbridge
	$(GO) build -o $(BIN)/itsmbridge-sandbox ./examples/sandbox
	@for p in $(PLUGINS); do \
		echo "$(GO) build -o $(BIN)/plugins/itsmbridge-plugin-$$p ./plugins/$$p"; \
		$(GO) build -o $(BIN)/plugins/itsmbridge-plugin-$$p ./plugins/$$p || exit 1; \
	done

## test: vet, gofmt check and every test under the race detector
test: vet fmt-check
	$(GO) test -race -timeout 20m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint: vet fmt-check

## demo: sandbox (emulators + Entra stand-in) + bridge + sample alerts
demo: build
	./$(BIN)/itsmbridge-sandbox demo -config config.hcl -bin $(BIN)

## bench: Go benchmarks of every package and the load runs → docs/BENCHMARKS.md
bench: build
	./scripts/bench.sh

## proto: regenerate sdk/proto (buf and the protoc plugins are pinned)
proto:
	cd sdk/proto && $(GO) run $(BUF) generate

clean:
	rm -rf $(BIN) data
