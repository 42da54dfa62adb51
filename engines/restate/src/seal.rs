//! The token the API returns once, sealed to the caller before anything is journaled: Restate
//! stores every `ctx.run` result, so the step output it keeps carries `body.token.sealed` (the
//! token age-encrypted to the caller's X25519 recipient, ASCII-armoured) instead of
//! `body.token.value`. Only the caller's identity opens it, and it survives every crash.

use age::x25519::Recipient;
use serde_json::Value;

/// The caller's `tokenRecipient`, or an error naming the field.
pub fn parse_recipient(text: &str) -> Result<Recipient, String> {
    text.trim().parse::<Recipient>().map_err(|_| {
        "tokenRecipient: expected an age X25519 recipient (`age1…`, as `age-keygen -y` prints)"
            .to_string()
    })
}

/// Replaces `body.token.value` in a step output: sealed to `recipient`, or left out (and the
/// output says so) when there is none. An output without a token is left as it is.
pub fn seal_returned_token(
    output: &mut Value,
    recipient: Option<&Recipient>,
) -> Result<(), String> {
    let Some(token) = output.pointer_mut("/body/token").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let Some(Value::String(value)) = token.remove("value") else { return Ok(()) };
    match recipient {
        Some(recipient) => {
            let sealed = age::encrypt_and_armor(recipient, value.as_bytes())
                .map_err(|error| format!("sealing the returned token failed: {error}"))?;
            token.insert("sealed".into(), Value::String(sealed));
        }
        None => {
            if let Value::Object(output) = output {
                output.insert(
                    "omitted".into(),
                    Value::String(
                        "body.token.value is left out: the invocation named no tokenRecipient, and \
                         Restate stores step outputs. Mint a token with POST \
                         /v2/dedicated-inferences/{id}/tokens, or pass tokenRecipient (age1…) to \
                         receive it sealed."
                            .into(),
                    ),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::x25519::Identity;
    use serde_json::json;

    fn output() -> Value {
        json!({"statusCode": 202, "body": {"dedicated_inference": {"id": "x"}, "token": {"name": "n", "value": "tok-123"}}})
    }

    #[test]
    fn the_sealed_token_opens_with_the_callers_identity_only() {
        let identity = Identity::generate();
        let recipient = parse_recipient(&identity.to_public().to_string()).unwrap();
        let mut sealed = output();
        seal_returned_token(&mut sealed, Some(&recipient)).unwrap();
        let text = sealed.to_string();
        assert!(!text.contains("tok-123"), "{text}");
        assert_eq!(sealed["body"]["token"]["name"], "n");
        let armoured = sealed["body"]["token"]["sealed"].as_str().unwrap();
        assert!(armoured.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"), "{armoured}");
        let opened = age::decrypt(&identity, armoured.as_bytes()).unwrap();
        assert_eq!(opened, b"tok-123");
        assert!(age::decrypt(&Identity::generate(), armoured.as_bytes()).is_err());
    }

    #[test]
    fn without_a_recipient_the_value_is_left_out_and_the_output_says_so() {
        let mut omitted = output();
        seal_returned_token(&mut omitted, None).unwrap();
        assert!(omitted["body"]["token"].get("value").is_none());
        assert!(!omitted.to_string().contains("tok-123"));
        assert!(omitted["omitted"].as_str().unwrap().contains("tokenRecipient"));
    }

    #[test]
    fn an_output_without_a_token_is_unchanged_and_a_bad_recipient_names_the_field() {
        let mut plain = json!({"statusCode": 200, "body": {"ok": true}});
        seal_returned_token(&mut plain, None).unwrap();
        assert_eq!(plain, json!({"statusCode": 200, "body": {"ok": true}}));
        assert!(parse_recipient("age1nope").unwrap_err().starts_with("tokenRecipient:"));
    }
}
