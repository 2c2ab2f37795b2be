// Package contract checks HTTP traffic against the (reconstructed) Cherwell
// CSM Swagger 2.0 description: the document is converted to OpenAPI 3 with
// kin-openapi's openapi2conv and every request and response is validated with
// openapi3filter. Tests wrap the emulator with Validator.Wrap, so whatever
// the test suite sends (including the plugin's own calls) is checked.
package contract
