use super::*;
use http::HeaderValue;

fn with(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    headers
}

#[test]
fn only_the_expected_token_passes() {
    let token = BearerToken::new("s3cret");
    assert_eq!(token.check(&with("Bearer s3cret")), Ok(()));
    assert_eq!(token.check(&with("bearer  s3cret ")), Ok(()));
    assert_eq!(token.check(&with("Bearer s3cre")), Err(TokenRefusal::Wrong));
    assert_eq!(
        token.check(&with("Basic s3cret")),
        Err(TokenRefusal::Missing)
    );
    assert_eq!(token.check(&with("Bearer ")), Err(TokenRefusal::Missing));
    assert_eq!(token.check(&HeaderMap::new()), Err(TokenRefusal::Missing));
}
