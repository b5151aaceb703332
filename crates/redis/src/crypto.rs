//! Sessions encrypted at rest: AES-256-GCM (aws-lc-rs), keys named by an id so
//! that they can be rotated, the Redis key name and the refresh count as
//! associated data.
//!
//! A stored value is `0x01 ‖ len(kid) ‖ kid ‖ nonce (12 bytes) ‖ ciphertext ‖ tag`.
//! The associated data is `authing-oidc-redis/1 ‖ 0 ‖ key name ‖ 0 ‖ refresh
//! count`: a value copied under another key (another user's session) or
//! paired with another count (to defeat the compare-and-set) does not decrypt.
//! Nonces are 96 random bits per value (NIST SP 800-38D §8.2.2): rotate the key
//! well before 2^32 saves under one key.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use secrecy::{ExposeSecret as _, SecretBox};

/// The format byte of a stored value.
const FORMAT: u8 = 1;
/// The prefix of the associated data.
const AAD_LABEL: &[u8] = b"authing-oidc-redis/1";

/// One AES-256 key and its id (which is stored next to every value it
/// encrypts, in clear, so that the right key is found after a rotation).
pub struct SessionKey {
    id: String,
    key: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SessionKey {
    /// A key with this id (1 to 255 bytes; it is not secret).
    pub fn new(id: impl Into<String>, key: SecretBox<[u8; 32]>) -> Result<Self, KeyError> {
        let id = id.into();
        if id.is_empty() || id.len() > 255 {
            return Err(KeyError("a key id has 1 to 255 bytes".to_owned()));
        }
        Ok(SessionKey { id, key })
    }

    /// A key from 32 bytes in base64 (standard or URL-safe, padded or not),
    /// e.g. the output of `openssl rand -base64 32`.
    pub fn from_base64(id: impl Into<String>, encoded: &secrecy::SecretString) -> Result<Self, KeyError> {
        use base64::Engine as _;
        let text = encoded.expose_secret().trim().trim_end_matches('=');
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| KeyError("the key is not base64".to_owned()))?;
        let decoded = SecretBox::new(Box::new(decoded));
        let bytes: [u8; 32] = decoded
            .expose_secret()
            .as_slice()
            .try_into()
            .map_err(|_| KeyError("the key is not 32 bytes".to_owned()))?;
        Self::new(id, SecretBox::new(Box::new(bytes)))
    }

    /// A fresh random key (OS CSPRNG).
    pub fn generate(id: impl Into<String>) -> Result<Self, KeyError> {
        let mut bytes = Box::new([0u8; 32]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| KeyError("the operating system's random generator failed".to_owned()))?;
        Self::new(id, SecretBox::new(bytes))
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn aead(&self) -> Result<LessSafeKey, KeyError> {
        let unbound = UnboundKey::new(&AES_256_GCM, self.key.expose_secret())
            .map_err(|_| KeyError("aws-lc refused the key".to_owned()))?;
        Ok(LessSafeKey::new(unbound))
    }
}

/// A key that cannot be used, or a keyring without keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session key: {}", self.0)
    }
}

impl std::error::Error for KeyError {}

/// The keys of a store: values are encrypted with the current one and
/// decrypted with whichever key their id names. To rotate, make a new key
/// current and keep the old one as previous until every session has been
/// saved again (each refresh saves it) or has expired.
#[derive(Debug)]
pub struct Keyring {
    current: SessionKey,
    previous: Vec<SessionKey>,
}

impl Keyring {
    /// A keyring that encrypts with `current`.
    pub fn new(current: SessionKey) -> Self {
        Keyring {
            current,
            previous: Vec::new(),
        }
    }

    /// Also decrypts values encrypted with `key` (a key being rotated out).
    pub fn with_previous(mut self, key: SessionKey) -> Self {
        self.previous.push(key);
        self
    }

    /// The id new values are encrypted under.
    pub fn current_id(&self) -> &str {
        self.current.id()
    }

    fn find(&self, id: &[u8]) -> Option<&SessionKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id.as_bytes() == id)
    }

    /// Encrypts `plaintext` for `name` at `count`.
    pub(crate) fn seal(&self, name: &str, count: u64, plaintext: &[u8]) -> Result<Vec<u8>, String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| "the operating system's random generator failed".to_owned())?;
        let key = self.current.aead().map_err(|e| e.to_string())?;
        let id = self.current.id.as_bytes();
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + plaintext.len() + 16);
        out.push(FORMAT);
        // The id has at most 255 bytes (SessionKey::new).
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce);
        let header = out.len();
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(header);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(name, count)),
            &mut body,
        )
        .map_err(|_| "encryption failed".to_owned())?;
        out.append(&mut body);
        Ok(out)
    }

    /// Decrypts a value stored under `name` at `count`; the plaintext is
    /// handed back in a secret box.
    pub(crate) fn open(&self, name: &str, count: u64, stored: &[u8]) -> Result<SecretBox<Vec<u8>>, String> {
        let malformed = || "the stored value is not in the store's format".to_owned();
        let (&format, rest) = stored.split_first().ok_or_else(malformed)?;
        if format != FORMAT {
            return Err(format!("unknown stored format {format}"));
        }
        let (&id_len, rest) = rest.split_first().ok_or_else(malformed)?;
        let (id, rest) = rest.split_at_checked(usize::from(id_len)).ok_or_else(malformed)?;
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN).ok_or_else(malformed)?;
        let key = self.find(id).ok_or_else(|| {
            format!(
                "encrypted with key {:?}, which this keyring does not hold",
                String::from_utf8_lossy(id)
            )
        })?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| malformed())?;
        let mut buffer = SecretBox::new(Box::new(sealed.to_vec()));
        let aead = key.aead().map_err(|e| e.to_string())?;
        let len = {
            let buf: &mut Vec<u8> = secrecy::ExposeSecretMut::expose_secret_mut(&mut buffer);
            aead.open_in_place(nonce, Aad::from(aad(name, count)), buf)
                .map_err(|_| {
                    "the stored value does not decrypt (another key name, another count, or altered)"
                        .to_owned()
                })?
                .len()
        };
        secrecy::ExposeSecretMut::expose_secret_mut(&mut buffer).truncate(len);
        Ok(buffer)
    }
}

fn aad(name: &str, count: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + name.len() + 24);
    aad.extend_from_slice(AAD_LABEL);
    aad.push(0);
    aad.extend_from_slice(name.as_bytes());
    aad.push(0);
    aad.extend_from_slice(count.to_string().as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(SessionKey::generate("k1").unwrap())
    }

    #[test]
    fn a_value_opens_only_under_its_name_and_count() {
        let ring = ring();
        let sealed = ring.seal("s:a", 3, b"tokens").unwrap();
        assert_eq!(
            ring.open("s:a", 3, &sealed).unwrap().expose_secret().as_slice(),
            b"tokens"
        );
        assert!(ring.open("s:b", 3, &sealed).is_err(), "moved to another key");
        assert!(ring.open("s:a", 4, &sealed).is_err(), "paired with another count");
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(ring.open("s:a", 3, &altered).is_err());
        assert!(!sealed.windows(6).any(|w| w == b"tokens"), "not in clear");
    }

    #[test]
    fn rotation_decrypts_with_any_known_key_and_encrypts_with_the_current() {
        let old = ring();
        let sealed_old = old.seal("s", 0, b"x").unwrap();
        let old_key = old.current;
        let new = Keyring::new(SessionKey::generate("k2").unwrap()).with_previous(old_key);
        assert_eq!(
            new.open("s", 0, &sealed_old).unwrap().expose_secret().as_slice(),
            b"x"
        );
        let sealed_new = new.seal("s", 0, b"y").unwrap();
        assert_eq!(&sealed_new[2..4], b"k2");
        // A keyring without the old key refuses the old value with a reason naming the id.
        let only_new = Keyring::new(SessionKey::generate("k2").unwrap());
        let e = only_new.open("s", 0, &sealed_old).unwrap_err();
        assert!(e.contains("\"k1\""), "{e}");
    }

    #[test]
    fn keys_are_checked_and_never_printed() {
        let text = secrecy::SecretString::from("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        let key = SessionKey::from_base64("k", &text).unwrap();
        assert!(!format!("{key:?}").contains("AAEC"));
        let short = secrecy::SecretString::from("AAECAw==");
        assert!(SessionKey::from_base64("k", &short).is_err());
        assert!(SessionKey::generate("").is_err());
    }
}
