export { RefreshingCredentials, type CredentialIssuer, type IssuedCredentials, type RefreshingOptions } from './refreshing-credentials.js';
export { fixedCredentials, isSharedCredentials, type SharedCredentials } from './shared-credentials.js';
export { CredentialRegistry, type CredentialServices } from './credential-registry.js';
export { credentialForms } from './credential-forms.js';
