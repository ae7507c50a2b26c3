//! Compile-time behaviour of the macros: every supported function shape compiles, every bad
//! argument is an error at the offending token.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
