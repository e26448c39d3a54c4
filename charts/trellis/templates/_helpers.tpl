{{/*
Names. The contract between the pieces fixes the object names (the node proxies dial the Service
trellis-control-plane, the control plane trusts the service account <namespace>/trellis-node-proxy, the
trust bundle is the ConfigMap trellis-ca-root-cert), so they do not vary with the release name: one
Trellis per cluster.
*/}}
{{- define "trellis.name" -}}trellis{{- end -}}
{{- define "trellis.controlPlane.name" -}}trellis-control-plane{{- end -}}
{{- define "trellis.nodeProxy.name" -}}trellis-node-proxy{{- end -}}

{{/* chart name and version, as the helm.sh/chart label wants it */}}
{{- define "trellis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "trellis.labels" -}}
helm.sh/chart: {{ include "trellis.chart" . }}
app.kubernetes.io/name: {{ include "trellis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: trellis
{{- end -}}

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "control-plane"). */}}
{{- define "trellis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trellis.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels of one component's objects; call like trellis.selectorLabels. */}}
{{- define "trellis.componentLabels" -}}
{{ include "trellis.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* An image reference: call with (dict "ctx" $ "name" "control-plane"). */}}
{{- define "trellis.image" -}}
{{- $tag := .ctx.Values.image.tag | default .ctx.Chart.AppVersion -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .ctx.Values.image.registry) .name $tag -}}
{{- end -}}

{{/* imagePullSecrets of a pod spec, if any. */}}
{{- define "trellis.imagePullSecrets" -}}
{{- if .Values.imagePullSecrets -}}
imagePullSecrets:
{{- range .Values.imagePullSecrets }}
  - name: {{ . | quote }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* The control plane's Service as the node proxies dial it (TLS xDS + CA). */}}
{{- define "trellis.controlPlane.address" -}}
{{- printf "%s.%s.svc:15012" (include "trellis.controlPlane.name" .) .Release.Namespace -}}
{{- end -}}

{{/* Environment of both node containers. */}}
{{- define "trellis.nodeEnv" -}}
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: HOST_IP
  valueFrom:
    fieldRef:
      fieldPath: status.hostIP
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: TRELLIS_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end -}}

{{/*
securityContext of the node containers but their capabilities, which each container lists with its reasons.
They run as UID 0 because Kubernetes gives added capabilities to root only (it sets no ambient capabilities,
and no_new_privs forbids file capabilities), but as a root without root's powers: every capability but the
listed ones is dropped (no DAC_OVERRIDE, CHOWN, SETUID, SYS_ADMIN...), the root filesystem is read-only, and
no_new_privs keeps it so. Not privileged (which is also why the bpffs mount propagates HostToContainer: the
API server allows Bidirectional only in privileged containers).
*/}}
{{- define "trellis.nodeSecurityContext" -}}
runAsUser: 0
runAsNonRoot: false
privileged: false
allowPrivilegeEscalation: {{ .escalation | default false }}
readOnlyRootFilesystem: true
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The Kubernetes API credentials of a container that calls the API server, projected explicitly where the
automatic mount would put them (Fabric8 reads them there and re-reads the token every minute; the kubelet
rotates it). Pods and service accounts set automountServiceAccountToken: false, so no other container gets one.
*/}}
{{- define "trellis.kubeApiTokenVolume" -}}
- name: kube-api-token
  projected:
    sources:
      - serviceAccountToken:
          expirationSeconds: 3600
          path: token
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                fieldPath: metadata.namespace
{{- end -}}

{{- define "trellis.kubeApiTokenMount" -}}
- name: kube-api-token
  mountPath: /var/run/secrets/kubernetes.io/serviceaccount
  readOnly: true
{{- end -}}
