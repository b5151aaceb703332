//! Misuse of the typed login flow is a compile error (docs/protocol.md §3). Each case in
//! `tests/ui/` is compiled and must fail with the message beside it.

#[test]
fn misuse_does_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
