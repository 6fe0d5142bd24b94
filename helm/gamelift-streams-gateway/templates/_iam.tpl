{{/*
The IAM policy the gateway's role needs, least privilege, for both services
it calls (values.iam; docs/deployment.md, "IAM"). Every action is one the
gateway calls (src/sessions/resilience/mod.rs, PUBLISHED_LIMITS), on the
resource types AWS's Service Authorization Reference lists for it:

  gameliftstreams session actions  stream group ARNs
  ListStreamSessionsByAccount      "*" (AWS lists no resource type for it)
  ivs stage actions                stage ARNs
  CreateStage, ListStages          stage/* (a new stage's ARN is not known
                                   before it exists; a list is of the account)
  StartComposition                 stage + encoder configuration (required),
                                   channel and storage configuration ARNs
  GetComposition, StopComposition  composition/* (ARNs made at start)
  ListCompositions                 "*" (its resource types are optional)

"*" statements are held to the Region with aws:RequestedRegion when the
Region is known.
*/}}

{{- define "gamelift-streams-gateway.iamRegion" -}}
{{- default (default "*" .Values.aws.region) .Values.iam.region -}}
{{- end -}}

{{/* arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, from (dict "root" . "service" S "resource" R). */}}
{{- define "gamelift-streams-gateway.iamArn" -}}
{{- $iam := .root.Values.iam -}}
{{- printf "arn:%s:%s:%s:%s:%s" $iam.partition .service (include "gamelift-streams-gateway.iamRegion" .root) (default "*" $iam.accountId) .resource -}}
{{- end -}}

{{/* One statement; Condition only where given. */}}
{{- define "gamelift-streams-gateway.iamStatement" -}}
{{- $s := dict "Sid" .sid "Effect" "Allow" "Action" .actions "Resource" .resources -}}
{{- with .condition }}{{ $_ := set $s "Condition" . }}{{ end -}}
{{- toJson $s -}}
{{- end -}}

{{/* The policy document, as compact JSON. */}}
{{- define "gamelift-streams-gateway.iamPolicyJson" -}}
{{- $iam := .Values.iam -}}
{{- $region := include "gamelift-streams-gateway.iamRegion" . -}}
{{- $inRegion := dict -}}
{{- if ne $region "*" }}{{ $inRegion = dict "StringEquals" (dict "aws:RequestedRegion" $region) }}{{ end -}}
{{- $statements := list -}}
{{- $groups := $iam.streamGroupArns | default (list (include "gamelift-streams-gateway.iamArn" (dict "root" . "service" "gameliftstreams" "resource" "streamgroup/*"))) -}}
{{- $sessionActions := list "gameliftstreams:StartStreamSession" "gameliftstreams:GetStreamSession" "gameliftstreams:ListStreamSessions" "gameliftstreams:TerminateStreamSession" "gameliftstreams:CreateStreamSessionConnection" "gameliftstreams:ExportStreamSessionFiles" -}}
{{- $statements = append $statements (include "gamelift-streams-gateway.iamStatement" (dict "sid" "GameLiftStreamsSessions" "actions" $sessionActions "resources" $groups)) -}}
{{- $statements = append $statements (include "gamelift-streams-gateway.iamStatement" (dict "sid" "GameLiftStreamsSessionsOfTheAccount" "actions" (list "gameliftstreams:ListStreamSessionsByAccount") "resources" (list "*") "condition" $inRegion)) -}}
{{- with $iam.passRoleArns }}
{{- $passed := dict "StringEquals" (dict "iam:PassedToService" "gameliftstreams.amazonaws.com") -}}
{{- $statements = append $statements (include "gamelift-streams-gateway.iamStatement" (dict "sid" "PassRoleToGameLiftStreamsSessions" "actions" (list "iam:PassRole") "resources" . "condition" $passed)) -}}
{{- end }}
{{- if $iam.stages.enabled }}
{{- $everyStage := include "gamelift-streams-gateway.iamArn" (dict "root" . "service" "ivs" "resource" "stage/*") -}}
{{- $stages := $iam.stages.stageArns | default (list $everyStage) -}}
{{- $stageActions := list "ivs:GetStage" "ivs:UpdateStage" "ivs:DeleteStage" "ivs:CreateParticipantToken" "ivs:GetParticipant" "ivs:ListParticipants" "ivs:DisconnectParticipant" "ivs:ListParticipantEvents" "ivs:GetStageSession" "ivs:ListStageSessions" -}}
{{- $statements = append $statements (include "gamelift-streams-gateway.iamStatement" (dict "sid" "IvsStages" "actions" $stageActions "resources" $stages)) -}}
{{- $statements = append $statements (include "gamelift-streams-gateway.iamStatement" (dict "sid" "IvsCreateAndListStages" "actions" (list "ivs:CreateStage" "ivs:ListStages") "resources" (list $everyStage))) -}}
{{- $c := $iam.stages.compositions -}}
{{- if $c.enabled }}
{{- if not (or $c.channelArns $c.storageConfigurationArns) -}}
{{- fail "iam.stages.compositions.enabled: name where compositions may go (channelArns and/or storageConfigurationArns)" -}}
{{- end -}}
{{- $encoders := $c.encoderConfigurationArns | default (list (include "gamelift-streams-gateway.iamArn" (dict "root" . "service" "ivs" "resource" "encoder-configuration/*"))) -}}
{{- $start := concat $stages $encoders ($c.channelArns | default list) ($c.storageConfigurationArns | default list) -}}
{{- $statements = append $statements (include "gamelift-streams-gateway.iamStatement" (dict "sid" "IvsStartComposition" "actions" (list "ivs:StartComposition") "resources" $start)) -}}
{{- $compositions := list (include "gamelift-streams-gateway.iamArn" (dict "root" . "service" "ivs" "resource" "composition/*")) -}}
{{- $statements = append $statements (include "gamelift-streams-gateway.iamStatement" (dict "sid" "IvsCompositions" "actions" (list "ivs:GetComposition" "ivs:StopComposition") "resources" $compositions)) -}}
{{- $statements = append $statements (include "gamelift-streams-gateway.iamStatement" (dict "sid" "IvsListCompositions" "actions" (list "ivs:ListCompositions") "resources" (list "*") "condition" $inRegion)) -}}
{{- end }}
{{- end }}
{{- printf "{\"Version\":\"2012-10-17\",\"Statement\":[%s]}" (join "," $statements) -}}
{{- end -}}

{{/* The policy document, indented for reading (NOTES.txt, the ACK Policy). */}}
{{- define "gamelift-streams-gateway.iamPolicy" -}}
{{- include "gamelift-streams-gateway.iamPolicyJson" . | fromJson | toPrettyJson -}}
{{- end -}}

{{/* The IAM role's name: iam.ack.role.name, or the release's full name. */}}
{{- define "gamelift-streams-gateway.iamRoleName" -}}
{{- default (include "gamelift-streams-gateway.fullname" .) .Values.iam.ack.role.name -}}
{{- end -}}

{{/* The role the ServiceAccount assumes: serviceAccount.roleArn, or the ACK Role's (IRSA trust). */}}
{{- define "gamelift-streams-gateway.roleArn" -}}
{{- $ack := .Values.iam.ack -}}
{{- if .Values.serviceAccount.roleArn -}}
{{- .Values.serviceAccount.roleArn -}}
{{- else if and $ack.enabled $ack.role.enabled (eq $ack.role.trust "irsa") -}}
{{- printf "arn:%s:iam::%s:role/%s" .Values.iam.partition .Values.iam.accountId (include "gamelift-streams-gateway.iamRoleName" .) -}}
{{- end -}}
{{- end -}}

{{/* The role's trust policy: the ServiceAccount through IRSA, or EKS Pod Identity. */}}
{{- define "gamelift-streams-gateway.iamTrustPolicy" -}}
{{- $role := .Values.iam.ack.role -}}
{{- $statement := dict -}}
{{- if eq $role.trust "irsa" -}}
{{- $provider := required "iam.ack.role.oidcProviderArn: the cluster's IAM OIDC provider (arn:aws:iam::ACCOUNT:oidc-provider/oidc.eks.REGION.amazonaws.com/id/ID)" $role.oidcProviderArn -}}
{{- $issuer := regexReplaceAll "^arn:[^:]+:iam::[0-9]+:oidc-provider/" $provider "" -}}
{{- $subject := printf "system:serviceaccount:%s:%s" .Release.Namespace (include "gamelift-streams-gateway.serviceAccountName" .) -}}
{{- $claims := dict (printf "%s:sub" $issuer) $subject (printf "%s:aud" $issuer) "sts.amazonaws.com" -}}
{{- $statement = dict "Effect" "Allow" "Principal" (dict "Federated" $provider) "Action" "sts:AssumeRoleWithWebIdentity" "Condition" (dict "StringEquals" $claims) -}}
{{- else -}}
{{- $statement = dict "Effect" "Allow" "Principal" (dict "Service" "pods.eks.amazonaws.com") "Action" (list "sts:AssumeRole" "sts:TagSession") -}}
{{- end -}}
{{- dict "Version" "2012-10-17" "Statement" (list $statement) | toPrettyJson -}}
{{- end -}}
