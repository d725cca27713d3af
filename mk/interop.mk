# Interop with gurux-dlms (issue 2). The tests themselves are the InteropTests target, so `make test-swift`
# (swift test) runs them; these targets are for looking at or re-running just that part.
.PHONY: interop interop-vectors

# Only the gurux interop tests (builds every test target, as swift test does).
interop: venv
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS) --filter InteropTests

# The vectors gurux produces, as JSON on stdout (for reading what the tests compare against).
interop-vectors: venv
	$(VPY) Tests/Interop/gurux_vectors.py

# The ciphered vectors (issue 12): gurux's requests for SC 10/20/30, LLS/HLS-GMAC, glo/general-glo,
# dedicated key, HDLC/wrapper, with the plaintext gurux ciphered for each.
.PHONY: interop-security-vectors
interop-security-vectors: venv
	$(VPY) Tests/Interop/gurux_security_vectors.py
