//! Test PKI: an rcgen CA and a leaf certificate for `localhost` and
//! `127.0.0.1`, written as PEM; clients trust only that CA.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A CA and one server certificate it signed.
#[derive(Clone)]
pub struct TestCa {
    pub ca_pem: String,
    /// Leaf certificate (SANs `localhost`, `127.0.0.1`).
    pub cert_pem: String,
    /// Leaf private key, PKCS#8 PEM.
    pub key_pem: String,
}

/// Where `TestCa::write` put the files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    pub fn generate() -> TestCa {
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.distinguished_name = dn("gatehouse test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca self-sign");

        let leaf_key = KeyPair::generate().expect("leaf key");
        // rcgen turns a SAN string that parses as an IP into an iPAddress SAN,
        // which is what a client connecting to https://127.0.0.1 checks.
        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("leaf params");
        leaf_params.distinguished_name = dn("localhost");
        leaf_params.is_ca = IsCa::NoCa;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf_params
            .signed_by(&leaf_key, &ca_cert, &ca_key)
            .expect("leaf sign");

        TestCa {
            ca_pem: ca_cert.pem(),
            cert_pem: leaf_cert.pem(),
            key_pem: leaf_key.serialize_pem(),
        }
    }

    /// Write `ca.pem`, `cert.pem` and `key.pem` into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> TlsFiles {
        std::fs::create_dir_all(dir).expect("create cert dir");
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.ca, &self.ca_pem).expect("write ca.pem");
        std::fs::write(&files.cert, &self.cert_pem).expect("write cert.pem");
        std::fs::write(&files.key, &self.key_pem).expect("write key.pem");
        files
    }

    /// The CA as a reqwest root certificate.
    pub fn root(&self) -> reqwest::Certificate {
        reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).expect("parse CA PEM")
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}
