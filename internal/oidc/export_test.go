package oidc

// Decryptions is how many times p has decrypted a stored signing key.
func Decryptions(p *Provider) int64 { return p.storage.ring.decrypts.Load() }
