// Package hclschema converts a plugin's declared config schema (sdk.Schema)
// into an hcldec.Spec, so the host decodes a backend's `config` block with
// exact file:line diagnostics before the plugin sees any value (the idea of
// Nomad's hclspec and Terraform's DecoderSpec). It lives in the SDK so that
// the conformance kit (sdk/plugintest) decodes configs exactly as the host does.
//
// Attribute types are HCL type-constraint strings parsed with ext/typeexpr;
// defaults are JSON, decoded against the attribute's type. Deprecated
// attributes produce a warning when set.
package hclschema
