// A real OpenID Provider for tests/oidc.rs: panva's oidc-provider (OpenID
// Certified), on a loopback port, with its development interactions (a
// login form that takes any password, then a consent form) so a plain HTTP
// client can sign in. Started and stopped by the tests (tests/common/op.rs).
//
// Environment:
//   OP_PORT     port to listen on (127.0.0.1)
//   OP_CLIENTS  JSON array of client metadata (client_id, client_secret,
//               redirect_uris, post_logout_redirect_uris,
//               backchannel_logout_uri, ...)
//   OP_USERS    JSON object: account id -> claims (email, email_verified,
//               preferred_username, groups, ...)
import Provider from 'oidc-provider';

const port = Number(process.env.OP_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OP_CLIENTS || '[]');
const users = JSON.parse(process.env.OP_USERS || '{}');

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    backchannel_logout_session_required: true,
    ...c,
  })),
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...user };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name', 'groups'],
  },
  // Put the scope's claims into the ID token itself (gatehouse reads the
  // ID token, not the userinfo endpoint).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  cookies: { keys: ['gatehouse-test-only'] },
  ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Session: 3600, Interaction: 600, Grant: 3600 },
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('backchannel.error', (ctx, err, client) => console.error('backchannel.error', client.clientId, err.message));
provider.on('backchannel.success', (ctx, client) => console.log('backchannel.success', client.clientId));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
